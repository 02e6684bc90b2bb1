# State lives in a GCS bucket shared by people and Cloud Build. The bucket is given at init time:
#   terraform -chdir=infra init -backend-config=bucket=BUCKET -backend-config=prefix=opwatch
terraform {
  backend "gcs" {}
}
