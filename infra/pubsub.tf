locals {
  # Every topic a registration may name; the poller may publish to these and no others. Keys are static so
  # for_each is known at plan time.
  notification_topics = merge(
    { default = google_pubsub_topic.notifications.id },
    { for topic in var.extra_notification_topics : topic => topic },
  )
}

resource "google_pubsub_topic" "notifications" {
  project = var.project_id
  name    = var.default_topic

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  project = var.project_id
  name    = "${var.default_topic}-dead-letter"

  depends_on = [google_project_service.apis]
}

# An example consumer: outcomes other than success, with undeliverable messages moved to the dead-letter topic.
resource "google_pubsub_subscription" "failures" {
  project = var.project_id
  name    = "${var.default_topic}-failures"
  topic   = google_pubsub_topic.notifications.id
  filter  = var.failure_subscription_filter

  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = 10
  }

  depends_on = [
    google_pubsub_topic_iam_member.dead_letter_publisher,
  ]
}

# Messages published to a topic without subscriptions are lost: keep dead letters for a week.
resource "google_pubsub_subscription" "dead_letter" {
  project = var.project_id
  name    = "${var.default_topic}-dead-letter"
  topic   = google_pubsub_topic.dead_letter.id

  message_retention_duration = "604800s"

  expiration_policy {
    ttl = ""
  }
}

# Dead-lettering is done by the Pub/Sub service agent: it publishes to the dead-letter topic and acknowledges
# on the source subscription.
resource "google_project_service_identity" "pubsub" {
  provider = google-beta

  project = var.project_id
  service = "pubsub.googleapis.com"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic_iam_member" "dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

resource "google_pubsub_subscription_iam_member" "failures_dead_letter_subscriber" {
  project      = var.project_id
  subscription = google_pubsub_subscription.failures.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

# The poll fan-out: with poll_shards > 1, a Scheduler tick publishes one {"shard": k} message per shard here, and
# the push subscription delivers each to the poll function (OIDC token of the fan-out account), so the shards
# run on parallel instances.
resource "google_pubsub_topic" "poll_fanout" {
  project = var.project_id
  name    = "opwatch-poll-fanout"

  # A shard message is only worth its own minute: the next tick sends a fresh one.
  message_retention_duration = "600s"

  depends_on = [google_project_service.apis]
}

resource "google_pubsub_subscription" "poll_fanout" {
  project = var.project_id
  name    = "opwatch-poll-fanout"
  topic   = google_pubsub_topic.poll_fanout.id

  # A push is acknowledged by the tick's answer, which comes at the end of its budget.
  ack_deadline_seconds       = min(var.poll_timeout_seconds, 600)
  message_retention_duration = "600s"

  expiration_policy {
    ttl = ""
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "60s"
  }

  push_config {
    push_endpoint = google_cloudfunctions2_function.poll.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.fanout.email
      audience              = google_cloudfunctions2_function.poll.service_config[0].uri
    }
  }

  depends_on = [
    google_cloud_run_service_iam_member.poll_fanout_invoker,
    google_service_account_iam_member.pubsub_fanout_token_creator,
  ]
}
