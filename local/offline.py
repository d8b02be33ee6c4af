"""The AWS environment of anything that talks to an emulator, never to AWS: fake credentials, one region.

A leaf module (no imports), so a script can set it before boto3 or a handler reads the environment.
``AWS_ACCOUNT_ID_ENDPOINT_MODE`` off: botocore would otherwise derive account-based endpoints from
the fake credentials.
"""

OFFLINE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
}
