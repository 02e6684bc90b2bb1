output "registration_url" {
  description = "URL of the registration API; callers need an ID token with this audience (FUNCTION_URLS lists it)."
  value       = local.registration_urls[0]
}

output "poll_url" {
  description = "URL of the poll function (only the scheduler may call it)."
  value       = google_cloudfunctions2_function.poll.service_config[0].uri
}

output "notification_topic" {
  description = "Full name of the default notification topic."
  value       = google_pubsub_topic.notifications.id
}

output "notification_topics" {
  description = "Every topic registrations may name (the poller may publish to these only)."
  value       = values(local.notification_topics)
}

output "dead_letter_topic" {
  description = "Full name of the dead-letter topic."
  value       = google_pubsub_topic.dead_letter.id
}

output "failure_subscription" {
  description = "Full name of the example subscription (filtered on attributes.outcome)."
  value       = google_pubsub_subscription.failures.id
}

output "registration_service_account" {
  description = "Service account the registration function runs as."
  value       = google_service_account.registration.email
}

output "poller_service_account" {
  description = "Service account the poller runs as: grant it read access to the operations it watches."
  value       = google_service_account.poller.email
}

output "poller_client_id" {
  description = "OAuth client id of the poller's service account, for a Workspace domain-wide delegation grant."
  value       = google_service_account.poller.unique_id
}

output "scheduler_service_account" {
  description = "Service account Cloud Scheduler calls the poller as."
  value       = google_service_account.scheduler.email
}

output "build_service_account" {
  description = "Service account Cloud Build builds the functions as."
  value       = google_service_account.build.email
}

output "completions_topic" {
  description = "Topic the completion-events sink writes to (null unless completion_events)."
  value       = one(google_pubsub_topic.completions[*].id)
}
