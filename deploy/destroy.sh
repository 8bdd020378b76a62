#!/usr/bin/env bash
# Delete the stack. The analytics and Athena results buckets are versioned/non-empty, which
# CloudFormation cannot delete, so they are emptied first (every object version), after a
# typed confirmation. The DynamoDB tables with collected events are retained (DeletionPolicy
# Retain) and listed at the end: delete them yourself once you no longer need the history.
source "$(dirname "$0")/common.sh"
echo "This deletes stack $STACK in $REGION and every object in its buckets:"
buckets=()
for key in AnalyticsBucketName AthenaResultsBucketName; do
  b=$(output "$key"); if [ -n "$b" ]; then buckets+=("$b"); echo "  s3://$b"; fi
done
if [ "${YES:-}" != "yes" ]; then
  read -r -p "Type the stack name ($STACK) to confirm: " answer
  [ "$answer" = "$STACK" ] || { echo "not confirmed; nothing deleted"; exit 1; }
fi
events=$(output EventsTableName); control=$(output ControlTableName)
for b in "${buckets[@]}"; do
  echo "emptying s3://$b"
  while :; do
    batch=$(aws s3api list-object-versions --region "$REGION" --bucket "$b" --max-items 500 \
      --query '{Objects: [Versions, DeleteMarkers][][].{Key: Key, VersionId: VersionId}}' --output json)
    [ "$(echo "$batch" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["Objects"] or []))')" = 0 ] && break
    aws s3api delete-objects --region "$REGION" --bucket "$b" --delete "$batch" --output text >/dev/null
  done
done
aws cloudformation delete-stack --region "$REGION" --stack-name "$STACK"
aws cloudformation wait stack-delete-complete --region "$REGION" --stack-name "$STACK"
echo "stack $STACK deleted. Retained tables (delete them when the history is no longer needed): $events $control"
