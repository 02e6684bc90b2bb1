locals {
  # The functions use the project's default database; the code has no setting for another one.
  firestore_database = "(default)"
}

resource "google_firestore_database" "default" {
  count = var.create_firestore_database ? 1 : 0

  project         = var.project_id
  name            = local.firestore_database
  location_id     = coalesce(var.firestore_location, var.region)
  type            = "FIRESTORE_NATIVE"
  deletion_policy = "ABANDON"

  depends_on = [google_project_service.apis]
}

# The poller's query: state == "pending" and nextPollAt <= now, ordered by nextPollAt.
resource "google_firestore_index" "due_registrations" {
  project    = var.project_id
  database   = local.firestore_database
  collection = var.operations_collection

  fields {
    field_path = "state"
    order      = "ASCENDING"
  }

  fields {
    field_path = "nextPollAt"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.apis, google_firestore_database.default]
}

# Finished registrations carry expireAt (finishedAt + retention_days); Firestore deletes them after it.
# The empty index_config exempts the field from single-field indexing, as advised for TTL timestamps.
resource "google_firestore_field" "expire_at" {
  project    = var.project_id
  database   = local.firestore_database
  collection = var.operations_collection
  field      = "expireAt"

  ttl_config {}

  index_config {}

  depends_on = [google_project_service.apis, google_firestore_database.default]
}
