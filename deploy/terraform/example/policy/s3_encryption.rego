# Every S3 bucket that a plan creates, updates or keeps has a server-side encryption configuration in the
# same plan. Checked by every policy step, besides the repository's own policies.
package runner.s3_encryption

deny contains msg if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket"
	rc.change.actions != ["delete"]
	not encrypted(rc)
	msg := sprintf("%s has no server-side encryption: add an aws_s3_bucket_server_side_encryption_configuration for it", [rc.address])
}

encrypted(bucket) if {
	some rc in input.resource_changes
	rc.type == "aws_s3_bucket_server_side_encryption_configuration"
	rc.change.actions != ["delete"]
	rc.change.after.bucket == bucket.change.after.bucket
}

encrypted(bucket) if {
	some res in input.configuration.root_module.resources
	res.type == "aws_s3_bucket_server_side_encryption_configuration"
	bucket.address in res.expressions.bucket.references
}
