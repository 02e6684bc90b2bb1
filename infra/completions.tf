# Completion events (opt-in, completion_events = true): Cloud Audit Logs' Admin Activity entry that ends an
# operation (operation.last = true) reaches the `completions` function within seconds, which has the operation
# polled at once. Sink → topic → OIDC push subscription → function. See docs/deploy.md.

locals {
  completion_events = var.completion_events ? 1 : 0

  # protoPayload.serviceName of every preset with completionEvents in functions/core/presets.ts (test/infra
  # holds the two to each other): entries of other services would only be acknowledged and dropped.
  completion_event_services = [
    "aiplatform.googleapis.com",
    "apigateway.googleapis.com",
    "compute.googleapis.com",
    "firestore.googleapis.com",
    "spanner.googleapis.com",
  ]

  completion_sink_filter = join(" AND ", [
    "logName:\"cloudaudit.googleapis.com%2Factivity\"",
    "operation.last=true",
    "protoPayload.serviceName=(${join(" OR ", [for service in local.completion_event_services : "\"${service}\""])})",
  ])
}

resource "google_pubsub_topic" "completions" {
  count = local.completion_events

  project = var.project_id
  name    = "opwatch-completions"

  depends_on = [google_project_service.apis]
}

resource "google_logging_project_sink" "completions" {
  count = local.completion_events

  project     = var.project_id
  name        = "opwatch-completions"
  description = "Operation completion entries (Admin Activity, operation.last) for opwatch"
  destination = "pubsub.googleapis.com/${google_pubsub_topic.completions[0].id}"
  filter      = local.completion_sink_filter

  unique_writer_identity = true
}

# The sink's writer identity may publish to this topic and nothing else.
resource "google_pubsub_topic_iam_member" "completion_sink_publisher" {
  count = local.completion_events

  project = var.project_id
  topic   = google_pubsub_topic.completions[0].name
  role    = "roles/pubsub.publisher"
  member  = google_logging_project_sink.completions[0].writer_identity
}

# The push subscription calls the function with an ID token of this account, the function's only invoker. Pub/Sub's
# service agent mints those tokens with its own role (projects made before April 2021 must grant it
# roles/iam.serviceAccountTokenCreator on this account by hand: docs/deploy.md).
resource "google_service_account" "completions_push" {
  count = local.completion_events

  project      = var.project_id
  account_id   = "opwatch-completions-push"
  display_name = "opwatch completion events delivery (Pub/Sub push)"

  depends_on = [google_project_service.apis]
}

resource "google_cloud_run_service_iam_member" "completions_invoker" {
  count = local.completion_events

  project  = var.project_id
  location = google_cloudfunctions2_function.completions[0].location
  service  = google_cloudfunctions2_function.completions[0].name
  role     = "roles/run.invoker"
  member   = google_service_account.completions_push[0].member
}

# Runs as the poller's account: it runs the poller's ticks, with the same reads, writes and topics.
resource "google_cloudfunctions2_function" "completions" {
  count = local.completion_events

  project     = var.project_id
  location    = var.region
  name        = "opwatch-completions"
  description = "opwatch completion events: polls an operation as soon as its audit entry says it ended"

  build_config {
    runtime         = "nodejs22"
    entry_point     = "completions"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  # Reached by Pub/Sub push (outside any VPC); only the push account holds roles/run.invoker.
  service_config {
    service_account_email          = google_service_account.poller.email
    available_memory               = "${var.poll_memory_mb}M"
    available_cpu                  = "1"
    timeout_seconds                = var.completion_poll_budget_seconds + var.poll_request_timeout_seconds + 30
    min_instance_count             = 0
    max_instance_count             = var.poll_max_instances + 2
    ingress_settings               = "ALLOW_ALL"
    all_traffic_on_latest_revision = true

    # Exactly COMPLETIONS_ENV of functions/core/config.ts (test/infra holds the two to each other): the poller's, and
    # the budget of the tick an event starts.
    environment_variables = merge(local.poller_env, {
      COMPLETION_POLL_BUDGET_SECONDS = tostring(var.completion_poll_budget_seconds)
    })
  }

  depends_on = [
    google_project_iam_member.build_run_builder,
    google_project_iam_member.poller_datastore_user,
    google_pubsub_topic_iam_member.poller_publisher,
  ]
}

# The path names the topic, as the Functions Framework expects of a raw push request; the audience is the URL.
resource "google_pubsub_subscription" "completions" {
  count = local.completion_events

  project = var.project_id
  name    = "opwatch-completions-push"
  topic   = google_pubsub_topic.completions[0].id

  # The function answers within its timeout; redelivery is only for a 5xx (Firestore unreachable).
  ack_deadline_seconds       = var.completion_poll_budget_seconds + var.poll_request_timeout_seconds + 30
  message_retention_duration = "86400s"

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.completions[0].service_config[0].uri}/${google_pubsub_topic.completions[0].id}"

    oidc_token {
      service_account_email = google_service_account.completions_push[0].email
      audience              = google_cloudfunctions2_function.completions[0].service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [
    google_cloud_run_service_iam_member.completions_invoker,
  ]
}

# The completions function's query: completionKey == key and state == pending.
resource "google_firestore_index" "completion_key" {
  count = local.completion_events

  project    = var.project_id
  database   = local.firestore_database
  collection = var.operations_collection

  fields {
    field_path = "completionKey"
    order      = "ASCENDING"
  }

  fields {
    field_path = "state"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.apis, google_firestore_database.default]
}
