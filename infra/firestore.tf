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

# The poller's query, one per shard: state == "pending", bucket in the shard's range, nextPollAt <= now, ordered
# by bucket then nextPollAt (functions/polling/due-registrations.ts). After the constant state comes the bucket,
# so the rising nextPollAt writes of pending registrations spread over 256 index ranges instead of one.
resource "google_firestore_index" "due_registrations" {
  project    = var.project_id
  database   = local.firestore_database
  collection = var.operations_collection

  fields {
    field_path = "state"
    order      = "ASCENDING"
  }

  fields {
    field_path = "bucket"
    order      = "ASCENDING"
  }

  fields {
    field_path = "nextPollAt"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.apis, google_firestore_database.default]
}

# GET /stats of one tenant (functions/registration/stats.ts): its pending and overdue registrations per shard and
# the oldest overdue one per bucket, the due query's fields with the tenant after the state.
resource "google_firestore_index" "tenant_due_registrations" {
  project    = var.project_id
  database   = local.firestore_database
  collection = var.operations_collection

  fields {
    field_path = "state"
    order      = "ASCENDING"
  }

  fields {
    field_path = "tenant"
    order      = "ASCENDING"
  }

  fields {
    field_path = "bucket"
    order      = "ASCENDING"
  }

  fields {
    field_path = "nextPollAt"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.apis, google_firestore_database.default]
}

locals {
  # UNINDEXED_FIELDS of functions/core/document.ts (test/infra holds the two to each other): fields no
  # query uses alone. Rising times rewritten on every poll would each be one hot index range, and the large
  # ones (lastOperation, lastError) cost index writes for nothing. Composite indexes are not affected.
  unindexed_fields = [
    "nextPollAt",
    "updatedAt",
    "lastPolledAt",
    "createdAt",
    "finishedAt",
    "deadline",
    "attempts",
    "errorStreak",
    "lastOperation",
    "lastError",
    "operation",
    "labels",
    "scopes",
    "pollPolicy",
    "bucket",
    "trace",
    "publishFailures",
    "publishFailingSince",
    "eventDueAt",
  ]
}

# An empty index_config exempts the field from the automatic single-field indexes.
resource "google_firestore_field" "unindexed" {
  for_each = toset(local.unindexed_fields)

  project    = var.project_id
  database   = local.firestore_database
  collection = var.operations_collection
  field      = each.value

  index_config {}

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

# GET /stats reads the last hour of one scope (the deployment, or a tenant) of the per-minute figures:
# scope == S and minute >= M (functions/notify/outcome-stats.ts).
resource "google_firestore_index" "stats_by_scope" {
  project    = var.project_id
  database   = local.firestore_database
  collection = "${var.operations_collection}_stats"

  fields {
    field_path = "scope"
    order      = "ASCENDING"
  }

  fields {
    field_path = "minute"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.apis, google_firestore_database.default]
}

# The per-minute notification figures GET /stats sums (<collection>_stats, functions/notify/outcome-stats.ts) carry
# expireAt, a day after their minute; Firestore deletes them after it.
resource "google_firestore_field" "stats_expire_at" {
  project    = var.project_id
  database   = local.firestore_database
  collection = "${var.operations_collection}_stats"
  field      = "expireAt"

  ttl_config {}

  index_config {}

  depends_on = [google_project_service.apis, google_firestore_database.default]
}

# The watches (functions/watches/watch-store.ts), in <operations_collection>_watches: each shard's tick lists its
# due ones, state == "active", bucket in the shard's range, nextListAt <= now, as the due registrations' query.
resource "google_firestore_index" "due_watches" {
  project    = var.project_id
  database   = local.firestore_database
  collection = "${var.operations_collection}_watches"

  fields {
    field_path = "state"
    order      = "ASCENDING"
  }

  fields {
    field_path = "bucket"
    order      = "ASCENDING"
  }

  fields {
    field_path = "nextListAt"
    order      = "ASCENDING"
  }

  depends_on = [google_project_service.apis, google_firestore_database.default]
}

locals {
  # UNINDEXED_WATCH_FIELDS of functions/core/watch-document.ts (test/infra holds the two to each other): above all
  # the baseline, one string of up to 5,000 keys, which no query reads.
  unindexed_watch_fields = [
    "baseline",
    "nextListAt",
    "lastListedAt",
    "updatedAt",
    "createdAt",
    "finishedAt",
    "deadline",
    "lastError",
    "labels",
    "scopes",
    "filter",
    "bucket",
  ]
}

resource "google_firestore_field" "unindexed_watch" {
  for_each = toset(local.unindexed_watch_fields)

  project    = var.project_id
  database   = local.firestore_database
  collection = "${var.operations_collection}_watches"
  field      = each.value

  index_config {}

  depends_on = [google_project_service.apis, google_firestore_database.default]
}

# Ended watches carry expireAt (finishedAt + retention_days), as registrations do.
resource "google_firestore_field" "watch_expire_at" {
  project    = var.project_id
  database   = local.firestore_database
  collection = "${var.operations_collection}_watches"
  field      = "expireAt"

  ttl_config {}

  index_config {}

  depends_on = [google_project_service.apis, google_firestore_database.default]
}
