#!/usr/bin/env bash
# The tracker's (or exporter's) recent logs: deploy/logs.sh [tracker|exporter] [--follow] [--since 1h]
source "$(dirname "$0")/common.sh"
fn="${1:-tracker}"; shift || true
case "$fn" in tracker | exporter) ;; *) echo "usage: $0 [tracker|exporter] [aws logs tail options]" >&2; exit 2 ;; esac
aws logs tail --region "$REGION" "/aws/lambda/$STACK-$fn" --since 1h --format short "$@"
