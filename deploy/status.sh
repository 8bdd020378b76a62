#!/usr/bin/env bash
# The stack's state, outputs and parameters, and the last run of each function.
source "$(dirname "$0")/common.sh"
aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK" \
  --query 'Stacks[0].{Stack: StackName, Status: StackStatus, Updated: LastUpdatedTime}' --output table
aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK" \
  --query 'Stacks[0].Outputs[].[OutputKey, OutputValue]' --output table
aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK" \
  --query 'Stacks[0].Parameters[].[ParameterKey, ParameterValue]' --output table
control=$(output ControlTableName)
if [ -n "$control" ]; then
  echo "checkpoints ($control):"
  aws dynamodb scan --region "$REGION" --table-name "$control" --filter-expression 'attribute_exists(last_processed_timestamp)' \
    --query 'Items[].[region.S, last_processed_timestamp.S, processing_status.S, events_processed_count.N, last_error.S]' --output table
fi
aws cloudwatch describe-alarms --region "$REGION" --alarm-name-prefix "$STACK-" \
  --query 'MetricAlarms[].[AlarmName, StateValue]' --output table
