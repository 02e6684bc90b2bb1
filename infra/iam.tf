# One service account per role, each with only what it uses.

resource "google_service_account" "registration" {
  project      = var.project_id
  account_id   = "opwatch-registration"
  display_name = "opwatch registration function"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "poller" {
  project      = var.project_id
  account_id   = "opwatch-poller"
  display_name = "opwatch poll function"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "opwatch-scheduler"
  display_name = "opwatch poll trigger (Cloud Scheduler)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "fanout" {
  project      = var.project_id
  account_id   = "opwatch-poll-fanout"
  display_name = "opwatch poll fan-out (Pub/Sub push)"

  depends_on = [google_project_service.apis]
}

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "opwatch-build"
  display_name = "opwatch function builds (Cloud Build)"

  depends_on = [google_project_service.apis]
}

# Registration: reads and writes registrations (and reads the poller's lease) ...
resource "google_project_iam_member" "registration_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.registration.member
}

# ... and wakes a tick over the fan-out topic when no running tick will poll a new registration soon.
resource "google_pubsub_topic_iam_member" "registration_wake_publisher" {
  topic  = google_pubsub_topic.poll_fanout.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.registration.member
}

# Poller: reads and writes registrations and its lease ...
resource "google_project_iam_member" "poller_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.poller.member
}

# ... publishes to the notification topics only ...
resource "google_pubsub_topic_iam_member" "poller_publisher" {
  for_each = local.notification_topics

  topic  = each.value
  role   = "roles/pubsub.publisher"
  member = google_service_account.poller.member
}

# ... and on the fan-out topic, one message per shard ...
resource "google_pubsub_topic_iam_member" "poller_fanout_publisher" {
  topic  = google_pubsub_topic.poll_fanout.id
  role   = "roles/pubsub.publisher"
  member = google_service_account.poller.member
}

# ... and to the dead-letter topic, if there is one ...
resource "google_pubsub_topic_iam_member" "poller_dead_letter_publisher" {
  count = var.dead_letter_topic == "" ? 0 : 1

  topic  = startswith(var.dead_letter_topic, "projects/") ? var.dead_letter_topic : "projects/${var.project_id}/topics/${var.dead_letter_topic}"
  role   = "roles/pubsub.publisher"
  member = google_service_account.poller.member
}

# ... and reads the watched operations, with the roles the operator lists per project.
locals {
  watched_grants = {
    for grant in flatten([
      for project, roles in var.watched_project_roles : [
        for role in roles : { project = project, role = role }
      ]
    ]) : "${grant.project} ${grant.role}" => grant
  }
}

resource "google_project_iam_member" "poller_watched" {
  for_each = local.watched_grants

  project = each.value.project
  role    = each.value.role
  member  = google_service_account.poller.member
}

# Builds of the two functions: read the uploaded source, push images to Artifact Registry, write build logs.
resource "google_project_iam_member" "build_run_builder" {
  project = var.project_id
  role    = "roles/run.builder"
  member  = google_service_account.build.member
}

# Invokers: the scheduler may call poll; the listed principals may call the registration function. Neither
# function is public.
resource "google_cloud_run_service_iam_member" "poll_invoker" {
  project  = var.project_id
  location = google_cloudfunctions2_function.poll.location
  service  = google_cloudfunctions2_function.poll.name
  role     = "roles/run.invoker"
  member   = google_service_account.scheduler.member
}

# The fan-out's push subscription calls poll as the fan-out account; the Pub/Sub service agent mints its OIDC
# tokens, for this one account only (projects made before April 2021 do not grant the agent that by default).
resource "google_cloud_run_service_iam_member" "poll_fanout_invoker" {
  project  = var.project_id
  location = google_cloudfunctions2_function.poll.location
  service  = google_cloudfunctions2_function.poll.name
  role     = "roles/run.invoker"
  member   = google_service_account.fanout.member
}

resource "google_service_account_iam_member" "pubsub_fanout_token_creator" {
  service_account_id = google_service_account.fanout.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:${google_project_service_identity.pubsub.email}"
}

resource "google_cloud_run_service_iam_member" "registration_invokers" {
  for_each = toset(var.registration_invokers)

  project  = var.project_id
  location = google_cloudfunctions2_function.operations.location
  service  = google_cloudfunctions2_function.operations.name
  role     = "roles/run.invoker"
  member   = each.value
}

# Keyless domain-wide delegation: the poller signs delegation JWTs as itself through IAM Credentials, which needs
# Token Creator on its own account. Only when some subject is allowed.
resource "google_service_account_iam_member" "poller_signs_as_itself" {
  count = length(var.delegation_subjects) > 0 ? 1 : 0

  service_account_id = google_service_account.poller.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.poller.member
}
