"""An unmodified boto3 program, run by the tests through `macaroon exec --aws`: it knows
nothing of the proxy (the environment has dummy keys, the token as the session token, and
HTTPS_PROXY). Prints one JSON line with what it got."""
import json
import sys

import boto3

mode = sys.argv[1]
if mode == "s3":
    s3 = boto3.client("s3", region_name="us-east-1")
    before = s3.list_objects_v2(Bucket="demo-bucket")
    put = s3.put_object(Bucket="demo-bucket", Key="reports/q3.txt", Body=b"hello from boto3")
    after = s3.list_objects_v2(Bucket="demo-bucket")
    print(json.dumps({
        "before": before["KeyCount"],
        "etag": put["ETag"],
        "after": [(o["Key"], o["Size"]) for o in after.get("Contents", [])],
    }))
elif mode == "sts":
    who = boto3.client("sts", region_name="us-east-1").get_caller_identity()
    headers = who["ResponseMetadata"]["HTTPHeaders"]
    print(json.dumps({"arn": who["Arn"], "account": who["Account"], "headers": headers}))
