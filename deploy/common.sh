#!/usr/bin/env bash
# Shared by the deploy scripts: the stack name, the region, and the AWS CLI checks.
#   STACK   the CloudFormation stack (default iam-tracker)
#   AWS_REGION / AWS_PROFILE   as for the AWS CLI
set -euo pipefail
STACK="${STACK:-iam-tracker}"
REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
if [ -z "$REGION" ]; then
  echo "set AWS_REGION (the region to deploy to)" >&2
  exit 2
fi
need() { command -v "$1" >/dev/null || { echo "$1 is not installed: $2" >&2; exit 2; }; }
need aws "https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"
# One stack output by key (empty when absent).
output() {
  aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text 2>/dev/null | sed 's/^None$//'
}
