data "google_project" "this" {
  project_id = var.project_id
}

locals {
  # The registration function's URLs, the audiences its callers' ID tokens are checked against. Both are known
  # before the function exists (its own uri output would be a cycle): the cloudfunctions.net URL and Cloud Run's
  # deterministic one.
  registration_urls = [
    "https://${var.region}-${var.project_id}.cloudfunctions.net/opwatch-operations",
    "https://opwatch-operations-${data.google_project.this.number}.${var.region}.run.app",
  ]
  # Registrations may name only topics the poller can publish to, unless the operator lists globs.
  allowed_topics = join(",", length(var.allowed_topics) > 0 ? var.allowed_topics : values(local.notification_topics))
  # opwatch's own topics are never a notification's, whatever the globs say: both functions are told all three.
  completion_events_topic = var.completion_events ? google_pubsub_topic.completions[0].id : ""
}

# The deploy artifact of every function, built by `npm run package` into build/function-source/: the compiled
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

  # What the poller reads: the poll function's environment, and the base of the completions function's, which
  # runs the same poller.
  poller_env = {
    GOOGLE_CLOUD_PROJECT         = var.project_id
    OPERATIONS_COLLECTION        = var.operations_collection
    ENDPOINT_OVERRIDES           = jsonencode(var.endpoint_overrides)
    RETENTION_DAYS               = tostring(var.retention_days)
    POLL_BUDGET_SECONDS          = tostring(var.poll_budget_seconds)
    POLL_CONCURRENCY             = tostring(var.poll_concurrency)
    POLL_LEASE_SECONDS           = tostring(var.poll_lease_seconds)
    POLL_REQUEST_TIMEOUT_SECONDS = tostring(var.poll_request_timeout_seconds)
    POLL_MEMORY_MB               = tostring(var.poll_memory_mb)
    POLL_SHARDS                  = tostring(var.poll_shards)
    POLL_FANOUT_TOPIC            = google_pubsub_topic.poll_fanout.id
    WATCH_PROJECTS               = join(",", var.watch_projects)
    WATCH_SERVICES               = join(",", var.watch_services)
    ALLOWED_TOPICS               = local.allowed_topics
    DELEGATION_SUBJECTS          = join(",", var.delegation_subjects)
    TENANTS                      = local.tenants_env
    PUBLISH_GRACE_SECONDS        = tostring(var.publish_grace_seconds)
    LIST_INTERVAL_SECONDS        = tostring(var.list_interval_seconds)
    DEAD_LETTER_TOPIC            = var.dead_letter_topic
    COMPLETION_EVENTS_TOPIC      = local.completion_events_topic
  }

  # The longest a poll run can take, as tickEndMs() in functions/polling/lease-timings.ts counts it: the budget, then the last
  # poll's request and its publish (a quarter of the lease, at most 20 s: leaseTimings in
  # polling/lease-timings.ts), then five Firestore calls within the lease (the last writes, a renewal, the flush,
  # the learned durations, the release).
  poll_publish_timeout_seconds = min(20, var.poll_lease_seconds / 4)
  poll_run_max_seconds         = var.poll_budget_seconds + var.poll_request_timeout_seconds + local.poll_publish_timeout_seconds + 5 * var.poll_lease_seconds
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

    # Exactly REGISTRATION_ENV of functions/core/config.ts (test/infra holds the two to each other).
    environment_variables = {
      GOOGLE_CLOUD_PROJECT  = var.project_id
      OPERATIONS_COLLECTION = var.operations_collection
      ENDPOINT_OVERRIDES    = jsonencode(var.endpoint_overrides)
      RETENTION_DAYS        = tostring(var.retention_days)
      DEFAULT_TOPIC         = google_pubsub_topic.notifications.id
      COMPLETION_EVENTS     = tostring(var.completion_events)
      WATCH_PROJECTS        = join(",", var.watch_projects)
      WATCH_SERVICES        = join(",", var.watch_services)
      ALLOWED_TOPICS        = local.allowed_topics
      DELEGATION_SUBJECTS   = join(",", var.delegation_subjects)
      TENANTS               = local.tenants_env
      FUNCTION_URLS         = join(",", local.registration_urls)
      ADMIN_PRINCIPALS      = join(",", var.admin_principals)
      MAX_PENDING_PER_OWNER = tostring(var.max_pending_per_owner)
      # A new registration that no running tick will poll soon wakes a tick of its shard over the fan-out topic.
      POLL_SHARDS       = tostring(var.poll_shards)
      POLL_FANOUT_TOPIC = google_pubsub_topic.poll_fanout.id
      # Named only to be refused as notification topics.
      DEAD_LETTER_TOPIC       = var.dead_letter_topic
      COMPLETION_EVENTS_TOPIC = local.completion_events_topic
      # ALLOW_UNAUTHENTICATED is never set here: a deployment always verifies callers' ID tokens.
    }
  }

  depends_on = [
    google_project_iam_member.build_run_builder,
    google_project_iam_member.registration_datastore_user,
    google_pubsub_topic_iam_member.registration_wake_publisher,
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
    available_memory               = "${var.poll_memory_mb}M"
    available_cpu                  = "1"
    timeout_seconds                = var.poll_timeout_seconds
    min_instance_count             = 0
    max_instance_count             = var.poll_max_instances
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    # Exactly POLLER_ENV of functions/core/config.ts (test/infra holds the two to each other).
    environment_variables = local.poller_env
  }

  lifecycle {
    precondition {
      condition     = var.poll_timeout_seconds > local.poll_run_max_seconds
      error_message = "poll_timeout_seconds must exceed poll_budget_seconds + poll_request_timeout_seconds + the publish timeout + the last write, the flush and the release (local.poll_run_max_seconds), or runs are cut off mid-poll."
    }

    # Each shard's tick is one long request on an instance of its own.
    precondition {
      condition     = var.poll_max_instances >= var.poll_shards
      error_message = "poll_max_instances must be at least poll_shards, or shards wait for each other."
    }
  }

  depends_on = [
    google_project_iam_member.build_run_builder,
    google_project_iam_member.poller_datastore_user,
    google_pubsub_topic_iam_member.poller_publisher,
    google_pubsub_topic_iam_member.poller_fanout_publisher,
  ]
}
