locals {
  # HTTP-only gen2 functions need Cloud Build, Cloud Run and Artifact Registry; no Eventarc. Keyless delegation
  # (delegation_subjects) needs IAM Credentials; the log-based metrics, alerts and dashboard need Logging and
  # Monitoring (monitoring.tf).
  services = toset(concat(length(var.delegation_subjects) > 0 ? ["iamcredentials.googleapis.com"] : [], [
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "firestore.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
  ]))
}

resource "google_project_service" "apis" {
  for_each = local.services

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
