# The deploy artifact of both functions, built by `npm run package` into build/function-source/: the compiled
# functions/ code, a package.json with the runtime dependencies only, and its own lock. Cloud Functions' build
# runs `npm ci` there and has nothing to compile. The object's name carries the archive's MD5, so any change to
# the artifact uploads a new object and redeploys both functions.
data "archive_file" "source" {
  type             = "zip"
  source_dir       = local.artifact_dir
  output_path      = "${path.module}/.terraform/opwatch-source.zip"
  output_file_mode = "0644"
  excludes         = ["node_modules"]

  lifecycle {
    precondition {
      condition     = fileexists("${local.artifact_dir}/package-lock.json")
      error_message = "No deploy artifact in build/function-source: run `npm run package` before terraform apply."
    }
  }
}

locals {
  artifact_dir = "${path.module}/../build/function-source"
}

resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = "${var.project_id}-opwatch-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "source" {
  bucket = google_storage_bucket.source.name
  name   = "opwatch-${data.archive_file.source.output_md5}.zip"
  source = data.archive_file.source.output_path
}

resource "google_cloudfunctions2_function" "operations" {
  project     = var.project_id
  location    = var.region
  name        = "opwatch-operations"
  description = "opwatch registration API"

  build_config {
    runtime         = "nodejs22"
    entry_point     = "operations"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    service_account_email          = google_service_account.registration.email
    available_memory               = "256M"
    timeout_seconds                = 60
    min_instance_count             = 0
    max_instance_count             = var.registration_max_instances
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    # Exactly REGISTRATION_ENV of functions/config.ts (test/infra holds the two to each other).
    environment_variables = {
      GOOGLE_CLOUD_PROJECT  = var.project_id
      OPERATIONS_COLLECTION = var.operations_collection
      ENDPOINT_OVERRIDES    = jsonencode(var.endpoint_overrides)
      RETENTION_DAYS        = tostring(var.retention_days)
      DEFAULT_TOPIC         = google_pubsub_topic.notifications.id
    }
  }

  depends_on = [
    google_project_iam_member.build_run_builder,
    google_project_iam_member.registration_datastore_user,
  ]
}

resource "google_cloudfunctions2_function" "poll" {
  project     = var.project_id
  location    = var.region
  name        = "opwatch-poll"
  description = "opwatch poller, run by Cloud Scheduler"

  build_config {
    runtime         = "nodejs22"
    entry_point     = "poll"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # Reachable from Cloud Scheduler (outside any VPC), so ingress is open; only the scheduler's service account
  # holds roles/run.invoker.
  service_config {
    service_account_email          = google_service_account.poller.email
    available_memory               = "512M"
    available_cpu                  = "1"
    timeout_seconds                = var.poll_timeout_seconds
    min_instance_count             = 0
    max_instance_count             = var.poll_max_instances
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    # Exactly POLLER_ENV of functions/config.ts (test/infra holds the two to each other).
    environment_variables = {
      GOOGLE_CLOUD_PROJECT         = var.project_id
      OPERATIONS_COLLECTION        = var.operations_collection
      ENDPOINT_OVERRIDES           = jsonencode(var.endpoint_overrides)
      RETENTION_DAYS               = tostring(var.retention_days)
      POLL_BUDGET_SECONDS          = tostring(var.poll_budget_seconds)
      POLL_CONCURRENCY             = tostring(var.poll_concurrency)
      POLL_LEASE_SECONDS           = tostring(var.poll_lease_seconds)
      POLL_REQUEST_TIMEOUT_SECONDS = tostring(var.poll_request_timeout_seconds)
    }
  }

  lifecycle {
    precondition {
      # A run's end, as tickEndMs() in functions/config.ts: the last polls' request and publish (20 s), then five
      # Firestore calls within the lease (the last writes, the learned duration, a renewal, the flush, the release).
      condition     = var.poll_timeout_seconds > var.poll_budget_seconds + var.poll_request_timeout_seconds + 20 + 5 * var.poll_lease_seconds
      error_message = "poll_timeout_seconds must exceed poll_budget_seconds + poll_request_timeout_seconds + 20 + 5 x poll_lease_seconds, or runs are cut off at their end."
    }
  }

  depends_on = [
    google_project_iam_member.build_run_builder,
    google_project_iam_member.poller_datastore_user,
    google_pubsub_topic_iam_member.poller_publisher,
  ]
}
