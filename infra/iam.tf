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

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "opwatch-build"
  display_name = "opwatch function builds (Cloud Build)"

  depends_on = [google_project_service.apis]
}

# Registration: reads and writes registrations.
resource "google_project_iam_member" "registration_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.registration.member
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

resource "google_cloud_run_service_iam_member" "registration_invokers" {
  for_each = toset(var.registration_invokers)

  project  = var.project_id
  location = google_cloudfunctions2_function.operations.location
  service  = google_cloudfunctions2_function.operations.name
  role     = "roles/run.invoker"
  member   = each.value
}
