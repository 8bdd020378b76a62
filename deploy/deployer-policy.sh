#!/usr/bin/env bash
# Print the deployer's IAM policies (deploy/deployer-policy.json and deployer-policy-data.json)
# for this account, region and stack: the files name the stack iam-tracker and hold ACCOUNT_ID
# and REGION placeholders. Two managed policies, because together they exceed the 6,144
# characters one managed policy may hold.
#   deploy/deployer-policy.sh [infra|data]     (default: infra)
# e.g. aws iam create-policy --policy-name iam-tracker-deployer \
#        --policy-document "$(deploy/deployer-policy.sh infra)"
source "$(dirname "$0")/common.sh"
case "${1:-infra}" in
  infra) file="$(dirname "$0")/deployer-policy.json" ;;
  data) file="$(dirname "$0")/deployer-policy-data.json" ;;
  *) echo "usage: $0 [infra|data]" >&2; exit 2 ;;
esac
account=$(aws sts get-caller-identity --region "$REGION" --output text --query Account)
# The Glue database is named after the stack with dashes as underscores (template.yaml).
sed -e "s/ACCOUNT_ID/$account/g" -e "s/REGION/$REGION/g" \
  -e "s/iam_tracker_iam_tracker/${STACK//-/_}_iam_tracker/g" -e "s/iam-tracker/$STACK/g" "$file"
