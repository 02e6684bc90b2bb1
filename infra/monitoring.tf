# Monitoring as code: log-based metrics read from the functions' structured log lines, the alert policies on them,
# and a dashboard. docs/operations.md says what each metric and alert means and what to do when one fires.
#
# The filters are literal strings, exactly as Cloud Logging gets them: test/system/monitoring-signals.test.ts runs
# the functions, collects the lines they write, and fails when a filter or extractor names a jsonPayload field they
# do not log, or when a metric matches none of them.

locals {
  # Monitoring's type of a log-based metric.
  user_metric = "logging.googleapis.com/user"

  # A notification Pub/Sub accepted: the notify audit line with its lag. Its lag and its count read the same lines.
  published_filter = <<-EOT
    resource.type="cloud_run_revision"
    AND resource.labels.service_name=("opwatch-poll" OR "opwatch-completions")
    AND jsonPayload.audit.action="notify"
    AND jsonPayload.audit.lagMs>=0
  EOT
  notify_labels = {
    outcome = "EXTRACT(jsonPayload.audit.outcome)"
    service = "EXTRACT(jsonPayload.audit.service)"
  }
}

# The lag of every published notification: from the operation's end (the end time it reports, or when a poll first
# found it ended) to Pub/Sub accepting it. Read from the notify audit line's lagMs.
resource "google_logging_metric" "notification_lag" {
  project     = var.project_id
  name        = "opwatch/notification_lag"
  description = "opwatch notification lag: from the operation's end to Pub/Sub accepting its notification."
  filter      = local.published_filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "opwatch notification lag"

    labels {
      key         = "outcome"
      description = "How the watch ended: succeeded, failed, expired, not_found or poll_error."
    }

    labels {
      key         = "service"
      description = "The watched API, e.g. firestore.googleapis.com."
    }
  }

  value_extractor  = "EXTRACT(jsonPayload.audit.lagMs)"
  label_extractors = local.notify_labels

  # LAG_HISTOGRAM of functions/notify/outcome-stats.ts (test/infra holds the two to each other): GET /stats sums
  # the same buckets, so its percentiles and the dashboard's agree.
  bucket_options {
    exponential_buckets {
      num_finite_buckets = 80
      growth_factor      = 1.189207115002721
      scale              = 50
    }
  }
}

# Throughput: notifications published, by outcome and service.
resource "google_logging_metric" "notifications" {
  project     = var.project_id
  name        = "opwatch/notifications"
  description = "opwatch notifications Pub/Sub accepted, by outcome and watched API."
  filter      = local.published_filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "opwatch notifications"

    labels {
      key         = "outcome"
      description = "How the watch ended."
    }

    labels {
      key         = "service"
      description = "The watched API."
    }
  }

  label_extractors = local.notify_labels
}

# Watches that ended without the operation's result reaching its subscribers: undeliverable (Pub/Sub refused the
# notification past the deadline and the grace) or poll_error (the operation could not be read).
resource "google_logging_metric" "watch_failures" {
  project     = var.project_id
  name        = "opwatch/watch_failures"
  description = "opwatch watches ended undeliverable or poll_error, by outcome and watched API."
  filter      = <<-EOT
    resource.type="cloud_run_revision"
    AND resource.labels.service_name=("opwatch-poll" OR "opwatch-completions")
    AND jsonPayload.audit.action="notify"
    AND jsonPayload.audit.outcome=("undeliverable" OR "poll_error")
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "opwatch watches ended undeliverable or poll_error"

    labels {
      key         = "outcome"
      description = "undeliverable or poll_error."
    }

    labels {
      key         = "service"
      description = "The watched API."
    }
  }

  label_extractors = local.notify_labels
}

# Ticks that failed (Firestore unreachable, or a bug), by shard. Cloud Scheduler or Pub/Sub's push retries them.
resource "google_logging_metric" "ticks_failed" {
  project     = var.project_id
  name        = "opwatch/ticks_failed"
  description = "opwatch poll ticks that failed, by shard."
  filter      = <<-EOT
    resource.type="cloud_run_revision"
    AND resource.labels.service_name="opwatch-poll"
    AND severity>=ERROR
    AND jsonPayload.failedInARow>=1
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "opwatch ticks failed"

    labels {
      key         = "shard"
      description = "The shard whose tick failed."
    }
  }

  label_extractors = {
    shard = "EXTRACT(jsonPayload.shard)"
  }
}

# Registrations the API refused, by reason: invalid, forbidden, no_tenant, over_quota, unsupported_media,
# unauthenticated (a body over the limit is answered 413 before the function runs and is not counted here).
resource "google_logging_metric" "registrations_refused" {
  project     = var.project_id
  name        = "opwatch/registrations_refused"
  description = "opwatch registrations refused, by reason."
  filter      = <<-EOT
    resource.type="cloud_run_revision"
    AND resource.labels.service_name="opwatch-operations"
    AND jsonPayload.audit.action="register"
    AND NOT jsonPayload.audit.outcome=("created" OR "existing")
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "opwatch registrations refused"

    labels {
      key         = "reason"
      description = "Why it was refused."
    }
  }

  label_extractors = {
    reason = "EXTRACT(jsonPayload.audit.outcome)"
  }
}

# Backlog: per tick, the longest a polled registration had been due. Near zero while polling keeps up.
resource "google_logging_metric" "poll_lateness" {
  project     = var.project_id
  name        = "opwatch/poll_lateness"
  description = "opwatch backlog: per tick, the longest a registration it polled had been due."
  filter      = <<-EOT
    resource.type="cloud_run_revision"
    AND resource.labels.service_name="opwatch-poll"
    AND jsonPayload.tick.maxLateMs>=0
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "ms"
    display_name = "opwatch poll lateness"
  }

  value_extractor = "EXTRACT(jsonPayload.tick.maxLateMs)"

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 40
      growth_factor      = 1.5
      scale              = 10
    }
  }
}

# Throughput: polls made, per tick.
resource "google_logging_metric" "polls" {
  project     = var.project_id
  name        = "opwatch/polls"
  description = "opwatch operations.get calls, per tick."
  filter      = <<-EOT
    resource.type="cloud_run_revision"
    AND resource.labels.service_name="opwatch-poll"
    AND jsonPayload.tick.polled>=0
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
    display_name = "opwatch polls per tick"
  }

  value_extractor = "EXTRACT(jsonPayload.tick.polled)"

  bucket_options {
    exponential_buckets {
      num_finite_buckets = 30
      growth_factor      = 2
      scale              = 1
    }
  }
}

# Attempts of the Scheduler job that failed: the poll function answered an error, timed out or was unreachable.
# Cloud Scheduler writes these lines; the filter names none of their payload fields.
resource "google_logging_metric" "scheduler_failures" {
  project     = var.project_id
  name        = "opwatch/scheduler_failures"
  description = "Failed attempts of the opwatch-poll Cloud Scheduler job."
  filter      = <<-EOT
    resource.type="cloud_scheduler_job"
    AND resource.labels.job_id="opwatch-poll"
    AND severity>=ERROR
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "opwatch Scheduler job failures"
  }
}

resource "google_monitoring_alert_policy" "notification_lag" {
  project      = var.project_id
  display_name = "opwatch: notification lag p99 over ${var.alert_lag_p99_seconds} s"
  combiner     = "OR"
  severity     = "WARNING"

  conditions {
    display_name = "notification lag p99 > ${var.alert_lag_p99_seconds} s for 10 minutes"

    condition_threshold {
      filter          = "metric.type=\"${local.user_metric}/${google_logging_metric.notification_lag.name}\" AND resource.type=\"cloud_run_revision\""
      comparison      = "COMPARISON_GT"
      threshold_value = var.alert_lag_p99_seconds * 1000
      duration        = "600s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_99"
      }
    }
  }

  notification_channels = var.notification_channels

  documentation {
    mime_type = "text/markdown"
    content   = "Notifications reach their topics late. See docs/operations.md, \"Notification lag\"."
  }
}

resource "google_monitoring_alert_policy" "undeliverable" {
  project      = var.project_id
  display_name = "opwatch: a watch ended undeliverable"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "undeliverable watches > 0"

    condition_threshold {
      filter          = "metric.type=\"${local.user_metric}/${google_logging_metric.watch_failures.name}\" AND resource.type=\"cloud_run_revision\" AND metric.label.outcome=\"undeliverable\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.service"]
      }
    }
  }

  notification_channels = var.notification_channels

  documentation {
    mime_type = "text/markdown"
    content   = "Pub/Sub refused a notification past its watch's deadline and PUBLISH_GRACE_SECONDS. See docs/operations.md, \"Undeliverable\"."
  }
}

# A log-match condition: the third failure in a row of one shard's tick (the failure line counts them).
resource "google_monitoring_alert_policy" "ticks_failing" {
  project      = var.project_id
  display_name = "opwatch: ticks failing three times in a row"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "a shard's tick failed three times in a row"

    condition_matched_log {
      filter = <<-EOT
        resource.type="cloud_run_revision"
        AND resource.labels.service_name="opwatch-poll"
        AND severity>=ERROR
        AND jsonPayload.failedInARow>=3
      EOT
      label_extractors = {
        shard = "EXTRACT(jsonPayload.shard)"
      }
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "300s"
    }
    auto_close = "1800s"
  }

  notification_channels = var.notification_channels

  documentation {
    mime_type = "text/markdown"
    content   = "Ticks of shard $${log.extracted_label.shard} keep failing: nothing of that shard is polled. See docs/operations.md, \"Ticks failing\"."
  }
}

resource "google_monitoring_alert_policy" "scheduler_failing" {
  project      = var.project_id
  display_name = "opwatch: the poll Scheduler job is failing"
  combiner     = "OR"
  severity     = "ERROR"

  conditions {
    display_name = "failed attempts of opwatch-poll in two consecutive minutes"

    condition_threshold {
      filter          = "metric.type=\"${local.user_metric}/${google_logging_metric.scheduler_failures.name}\" AND resource.type=\"cloud_scheduler_job\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "120s"

      aggregations {
        alignment_period     = "60s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
      }
    }
  }

  notification_channels = var.notification_channels

  documentation {
    mime_type = "text/markdown"
    content   = "Cloud Scheduler cannot run the poll function. See docs/operations.md, \"Scheduler job failing\"."
  }
}

# The dashboard: lag, throughput, backlog and the failures above (monitoring-dashboard.json).
resource "google_monitoring_dashboard" "opwatch" {
  project        = var.project_id
  dashboard_json = file("${path.module}/monitoring-dashboard.json")

  depends_on = [
    google_logging_metric.notification_lag,
    google_logging_metric.notifications,
    google_logging_metric.watch_failures,
    google_logging_metric.ticks_failed,
    google_logging_metric.registrations_refused,
    google_logging_metric.poll_lateness,
    google_logging_metric.polls,
    google_logging_metric.scheduler_failures,
  ]
}
