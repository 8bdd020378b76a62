"""`console-login-without-mfa`: an IAM user signed in to the AWS console without MFA.

A third-party iam-tracker detector written in Python and built with componentize-py
(`cargo xtask build-py-plugin`). It targets the world `detector` of
`iam-tracker:plugin@0.1.0` (wit/plugin.wit) and imports nothing else: no WASI.

- **Detects:** `signin.amazonaws.com` / `ConsoleLogin` by an `IAMUser` that succeeded
  (`responseElements.ConsoleLogin` is `Success`, any case, and no `errorMessage` or
  `errorCode`) with `additionalEventData.MFAUsed` equal to `No` (any case).
- **Skips:** failed logins; root (the built-in `root-activity` reports every root login);
  IAM Identity Center and SAML sessions, which log `MFAUsed: No` although MFA happened at
  the identity provider (`SAMLUser`, `IdentityCenterUser`, an `AssumedRole` whose role is
  `AWSReservedSSO_*`, any record with `additionalEventData.SamlProviderArn`); every other
  identity type; records with no `MFAUsed` at all (nothing says MFA was skipped).
- **Severity:** warning.
- **Config:** no settings of its own. The host always sends `trusted_account_ids` (and
  `admin_policy_names` when set); any other key is rejected with `invalid-config`.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import host
from wit_world.imports.event import CloudtrailEvent
from wit_world.imports.types import (
    Alert,
    PluginError_Internal,
    PluginError_InvalidConfig,
    PluginInfo,
    PluginKind,
    Severity,
    Subscription,
)

ID = "console-login-without-mfa"
VERSION = "0.1.0"
EVENT_SOURCE = "signin.amazonaws.com"
EVENT_NAME = "ConsoleLogin"
TITLE = "Console Login Without MFA"

# Keys the host adds to every plugin's config (plugins/sdk/src/config.rs, GLOBAL_KEYS).
GLOBAL_KEYS = ("admin_policy_names", "trusted_account_ids")

# Identity types whose MFA happens outside IAM (at Identity Center or the SAML IdP).
FEDERATED_TYPES = ("SAMLUser", "IdentityCenterUser")
# Roles IAM Identity Center creates in member accounts for permission sets.
SSO_ROLE_PREFIX = "AWSReservedSSO_"


def _text(json_text):
    """A scalar from `field()`'s JSON text; None for absent, null, objects and arrays."""
    if json_text is None:
        return None
    # Fast path for a plain JSON string: no escapes, so the text between the quotes is it.
    if len(json_text) >= 2 and json_text[0] == '"' and json_text[-1] == '"' and "\\" not in json_text:
        return json_text[1:-1]
    try:
        value = json.loads(json_text)
    except ValueError:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json_text
    return None


def _non_empty(value):
    if value is None or not value.strip():
        return None
    return value


def _role_name(arn, marker):
    """The path segment after `marker` in an ARN (`role/`, `assumed-role/`), if any."""
    if not arn or marker not in arn:
        return None
    rest = arn.split(marker, 1)[1]
    parts = rest.split("/")
    if marker == "role/":
        # `role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_X_123`: the name is last.
        return parts[-1] or None
    return parts[0] or None


def skip_reason(event):
    """Why a successful ConsoleLogin is out of scope, or None when the rule applies.

    Only signals AWS itself writes are used: the identity type, the role behind an
    assumed-role session and `SamlProviderArn`. `LoginTo` (the redirect target the browser
    asked for) and the user agent are client-supplied, so they are never a reason to stay
    silent: trusting them would let an attacker with a stolen password hide the login.
    """
    identity_type = event.identity_type()
    if identity_type in FEDERATED_TYPES:
        return f"{identity_type} session (MFA is enforced by the identity provider)"
    if identity_type == "AssumedRole":
        for arn, marker in ((event.session_issuer_arn(), "role/"), (event.identity_arn(), "assumed-role/")):
            name = _role_name(arn, marker)
            if name and name.startswith(SSO_ROLE_PREFIX):
                return "IAM Identity Center session (AWSReservedSSO_ role)"
    if _non_empty(_text(event.field("additionalEventData.SamlProviderArn"))):
        return "SAML federated session (SamlProviderArn present)"
    if identity_type == "Root":
        return "root login (reported by the built-in root-activity detector)"
    if identity_type != "IAMUser":
        return f"identity type {identity_type or 'missing'} is out of scope"
    return None


def succeeded(event):
    outcome = _text(event.field("responseElements.ConsoleLogin"))
    if outcome is None or outcome.strip().lower() != "success":
        return False
    return _non_empty(event.error_message()) is None and _non_empty(event.error_code()) is None


def mfa_not_used(event):
    mfa = _text(event.field("additionalEventData.MFAUsed"))
    return mfa is not None and mfa.strip().lower() == "no"


def assess(event):
    """The alert for one event, or None.

    Every getter is a call into the host, so the cheapest and most selective test comes
    first: most console logins use MFA and end here after one call.
    """
    if not mfa_not_used(event) or not succeeded(event):
        return None
    # The host only routes subscribed events here; checked anyway, as the built-ins do.
    if event.event_source() != EVENT_SOURCE or event.event_name() != EVENT_NAME:
        return None
    if skip_reason(event) is not None:
        return None
    user = (
        _non_empty(event.user_name())
        or _non_empty(event.actor())
        or _non_empty(event.identity_arn())
        or _non_empty(event.principal_id())
        or "unknown"
    )
    account = _non_empty(event.recipient_account_id()) or _non_empty(event.account_id()) or "unknown"
    ip = _non_empty(event.source_ip_address()) or "unknown"
    message = f"IAM user {user} signed in to the console of account {account} from {ip} without MFA"
    context = [("user", user), ("account", account), ("source_ip", ip)]
    arn = _non_empty(event.identity_arn())
    if arn:
        context.append(("arn", arn))
    return Alert(severity=Severity.WARNING, title=TITLE, message=message, dedup_key=None, context=context)


def parse_config(config):
    """Validate the JSON config; raise Err(invalid-config) on anything unusable."""
    text = config.strip()
    if not text or text == "null":
        return {}
    try:
        value = json.loads(text)
    except ValueError as e:
        raise Err(PluginError_InvalidConfig(f"config is not JSON: {e}"))
    if not isinstance(value, dict):
        raise Err(PluginError_InvalidConfig(f"expected a JSON object, got {text[:80]}"))
    unknown = sorted(k for k in value if k not in GLOBAL_KEYS)
    if unknown:
        raise Err(
            PluginError_InvalidConfig(
                f"unknown key(s) {', '.join(unknown)}: {ID} has no settings of its own "
                f"(accepted: {', '.join(GLOBAL_KEYS)})"
            )
        )
    for key in GLOBAL_KEYS:
        if key in value:
            items = value[key]
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise Err(PluginError_InvalidConfig(f"{key}: expected a list of strings"))
    return value


class Detection(exports.Detection):
    """The exported `detection` interface; componentize-py instantiates it once."""

    def info(self) -> PluginInfo:
        return PluginInfo(
            id=ID,
            version=VERSION,
            description="Successful console sign-in by an IAM user without MFA (skips Identity Center/SAML)",
            kind=PluginKind.DETECTOR,
            default_severity=Severity.WARNING,
            subscriptions=[Subscription(event_source=EVENT_SOURCE, event_name=EVENT_NAME)],
        )

    def configure(self, config: str) -> None:
        parse_config(config)

    def detect(self, event: CloudtrailEvent) -> list:
        try:
            alert = assess(event)
        except Err:
            raise
        except Exception as e:  # a bug here must not trap the instance: report it instead
            message = f"{type(e).__name__}: {e}"
            host.log(host.Level.ERROR, f"{ID}: {message}")
            raise Err(PluginError_Internal(message))
        return [alert] if alert is not None else []
