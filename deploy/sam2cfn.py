"""Expand the SAM template offline into plain CloudFormation (JSON).

cfn-lint 1.x checks SAM resources against a schema but no longer runs the SAM transform, so
it misses errors that only the transform reveals (a bad runtime, a broken !Ref inside a
function's environment or policies, a malformed schedule). Expanding first with
`samtranslator`, then linting the result, catches them. No AWS call is made: the CodeUri is
replaced by a placeholder and managed-policy lookups are answered from an empty table.

usage: AWS_DEFAULT_REGION=us-east-1 python deploy/sam2cfn.py template.yaml out.json
"""
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names no managed policies; nothing to look up."""

    def load(self):
        return {}


def main(src: str, dst: str) -> None:
    with open(src, encoding="utf-8") as f:
        tpl = yaml_parse(f.read())
    for res in tpl.get("Resources", {}).values():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function" and not str(props.get("CodeUri", "")).startswith("s3://"):
            props["CodeUri"] = "s3://placeholder-bucket/placeholder.zip"
    out = transform(tpl, {"AWS::Region": "us-east-1"}, NoManagedPolicies())
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: sam2cfn.py TEMPLATE OUT.json")
    main(sys.argv[1], sys.argv[2])
