# Runs the poller: an authenticated POST to its URL, with an ID token of the scheduler's service account.
resource "google_cloud_scheduler_job" "poll" {
  project     = var.project_id
  region      = var.region
  name        = "opwatch-poll"
  description = "Runs the opwatch poller"
  schedule    = var.poll_schedule
  time_zone   = "Etc/UTC"

  # Longer than the function's timeout, so the scheduler does not give up on a run still going.
  attempt_deadline = "${var.poll_timeout_seconds + 30}s"

  # A failed run is retried once; the next scheduled run follows within the minute anyway, and the lease
  # keeps overlapping runs from polling the same operations.
  retry_config {
    retry_count          = 1
    min_backoff_duration = "5s"
    max_backoff_duration = "30s"
    max_doublings        = 1
  }

  http_target {
    http_method = "POST"
    uri         = google_cloudfunctions2_function.poll.service_config[0].uri

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = google_cloudfunctions2_function.poll.service_config[0].uri
    }
  }

  depends_on = [google_cloud_run_service_iam_member.poll_invoker]
}
