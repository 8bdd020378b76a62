#!/usr/bin/env bash
# Build and deploy the stack: `cargo xtask dist` (plugins precompiled for the architecture,
# Lambda packages), then `sam deploy`. Parameters come from the environment:
#   ARCHITECTURE (arm64|x86_64), SCHEDULE_EXPRESSION, EXPORT_SCHEDULE_EXPRESSION, MAX_WORKERS,
#   LOG_LEVEL, PROCESS_IAM_EVENTS, PROCESS_STS_EVENTS, PROCESS_SIGNIN_EVENTS, PROCESS_SSO_EVENTS,
#   SSO_REGION, FILTER_AWS_SERVICE_EVENTS, FILTERED_ROLES, EVENT_RETENTION_DAYS, ENABLE_ANALYTICS,
#   EXPORT_DAYS_BACK, ENABLE_SECURITY_ALERTS, ALERTS_EMAIL_ADDRESS, OFF_HOURS_START, OFF_HOURS_END,
#   PLUGIN_CONFIG, PLUGINS_S3_URI, PLUGINS_SHA256. Unset ones keep the template's defaults.
source "$(dirname "$0")/common.sh"
cd "$(dirname "$0")/.."
need sam "pip install aws-sam-cli"
aws sts get-caller-identity --region "$REGION" --output text --query Account >/dev/null \
  || { echo "no usable AWS credentials (aws sts get-caller-identity failed)" >&2; exit 2; }

arch="${ARCHITECTURE:-arm64}"
cargo xtask dist --arch "$arch"

overrides=("Architecture=$arch")
add() { if [ -n "${!1:-}" ]; then overrides+=("$2=${!1}"); fi; }
add SCHEDULE_EXPRESSION ScheduleExpression
add EXPORT_SCHEDULE_EXPRESSION ExportScheduleExpression
add MAX_WORKERS MaxWorkers
add LOG_LEVEL LogLevel
add PROCESS_IAM_EVENTS ProcessIAMEvents
add PROCESS_STS_EVENTS ProcessSTSEvents
add PROCESS_SIGNIN_EVENTS ProcessSigninEvents
add PROCESS_SSO_EVENTS ProcessSSOEvents
add SSO_REGION SSORegion
add FILTER_AWS_SERVICE_EVENTS FilterAWSServiceEvents
add FILTERED_ROLES FilteredRoles
add EVENT_RETENTION_DAYS EventRetentionDays
add ENABLE_ANALYTICS EnableAnalytics
add EXPORT_DAYS_BACK ExportDaysBack
add ENABLE_SECURITY_ALERTS EnableSecurityAlerts
add ALERTS_EMAIL_ADDRESS AlertsEmailAddress
add OFF_HOURS_START OffHoursStart
add OFF_HOURS_END OffHoursEnd
add PLUGIN_CONFIG PluginConfig
add PLUGINS_S3_URI PluginsS3Uri
add PLUGINS_SHA256 PluginsSha256

sam deploy --region "$REGION" --stack-name "$STACK" --template-file target/dist/template.yaml \
  --resolve-s3 --capabilities CAPABILITY_IAM --no-fail-on-empty-changeset \
  --parameter-overrides "${overrides[@]}"
"$(dirname "$0")/status.sh"
