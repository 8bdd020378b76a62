#!/usr/bin/env bash
# Publish one test alert to the stack's alerts topic, in the same format and with the same
# message attributes as a real alert, so e-mail and filter-policy subscriptions can be checked.
source "$(dirname "$0")/common.sh"
topic=$(output SecurityAlertsTopicArn)
[ -n "$topic" ] || { echo "stack $STACK has no alerts topic (EnableSecurityAlerts=false?)" >&2; exit 1; }
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
aws sns publish --region "$REGION" --topic-arn "$topic" \
  --subject "[LOW] IAM Alert: iam-tracker test alert" \
  --message "IAM Activity Alert: iam-tracker test alert

Severity: LOW
Time: $now
Region: $REGION

This is a test published by deploy/test-alert.sh. No action is needed.

Action Required: none (test)." \
  --message-attributes '{"severity":{"DataType":"String","StringValue":"LOW"},"event_name":{"DataType":"String","StringValue":"TestAlert"},"detector":{"DataType":"String","StringValue":"test-alert"}}' \
  --query MessageId --output text
echo "published to $topic"
