"""Translates template.yaml into the CloudFormation that SAM would deploy.

Usage: python3 infra/cfn/translate.py template.yaml out.json

It runs AWS's own SAM translator (aws-sam-translator), the code behind
`sam build` and the CloudFormation transform, so that cfn-lint can check the
roles, permissions and API resources SAM generates, which it cannot see in
the SAM template itself. It works offline: the translator asks IAM for the
ARNs of AWS managed policies named by name, and this template names none,
so the loader knows none and a policy named that way fails here instead of
being guessed.
"""

import json
import sys

import boto3
from cfnlint.decode import cfn_yaml
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator


def no_managed_policies():
    """The managed policy map without IAM: no policy is known by name."""
    return {}


def main(argv):
    if len(argv) != 3:
        sys.exit("usage: translate.py template.yaml out.json")
    template = cfn_yaml.load(argv[1])
    # `sam package` uploads each function's build and puts its S3 location
    # in CodeUri; the translator accepts nothing else. The location is a
    # placeholder here: only its shape matters.
    for rid, res in template.get("Resources", {}).items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::Serverless::Function" and isinstance(props.get("CodeUri"), str):
            props["CodeUri"] = "s3://sam-package/" + rid + ".zip"
    # The session only names the region whose partition the generated ARNs
    # use; it makes no call. The template's own ARNs use ${AWS::Partition}.
    session = boto3.session.Session(region_name="us-east-1")
    translator = Translator(None, Parser(), boto_session=session)
    try:
        out = translator.translate(template, parameter_values={}, get_managed_policy_map=no_managed_policies)
    except InvalidDocumentException as e:
        for cause in e.causes:
            print(f"{argv[1]}: SAM: {cause.message}", file=sys.stderr)
        sys.exit(1)
    with open(argv[2], "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, sort_keys=True, default=str)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv)
