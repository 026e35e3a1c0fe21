# Every S3 bucket that a plan creates, updates or keeps has a server-side encryption configuration
# (aws_s3_bucket_server_side_encryption_configuration) in the same plan. Input: `terraform show -json planfile`.
package terraform.s3_encryption

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket"
	rc.change.actions != ["delete"]
	not encrypted(rc)
	msg := sprintf("%s has no server-side encryption: add an aws_s3_bucket_server_side_encryption_configuration for it", [rc.address])
}

# encrypted by name: a configuration whose bucket is known when planning names this bucket.
encrypted(bucket) if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket_server_side_encryption_configuration"
	rc.change.actions != ["delete"]
	rc.change.after.bucket == bucket.change.after.bucket
}

# encrypted by reference: bucket = aws_s3_bucket.NAME.id (or .bucket) in the root module, a value that is
# unknown until apply for a new bucket.
encrypted(bucket) if {
	some res in input.configuration.root_module.resources
	res.type == "aws_s3_bucket_server_side_encryption_configuration"
	bucket.address in res.expressions.bucket.references
}
