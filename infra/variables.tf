variable "project_id" {
  description = "Project opwatch runs in: its functions, Firestore database, topics and scheduler job."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a Google Cloud project id."
  }
}

variable "region" {
  description = "Region of the functions, the source bucket and the scheduler job."
  type        = string
  default     = "us-central1"
}

variable "create_firestore_database" {
  description = "Create the project's (default) Firestore database in native mode. Set false when the project already has one (the functions use the (default) database)."
  type        = bool
  default     = true
}

variable "firestore_location" {
  description = "Location of the (default) Firestore database when this configuration creates it, e.g. nam5 or us-central1. Defaults to region. Cannot be changed later."
  type        = string
  default     = null
}

variable "operations_collection" {
  description = "Firestore collection holding one document per registration (OPERATIONS_COLLECTION). The poller's lease lives in <collection>_leases."
  type        = string
  default     = "operations"

  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,100}$", var.operations_collection))
    error_message = "operations_collection must be 1-100 letters, digits, _ or -."
  }
}

variable "retention_days" {
  description = "Days a finished registration is kept before Firestore's TTL policy deletes it (RETENTION_DAYS)."
  type        = number
  default     = 30

  validation {
    condition     = var.retention_days > 0 && var.retention_days <= 3650
    error_message = "retention_days must be in (0, 3650]."
  }
}

variable "default_topic" {
  description = "Id of the notification topic this configuration creates; registrations that name no topic publish here (DEFAULT_TOPIC)."
  type        = string
  default     = "opwatch-notifications"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9._~+%-]{2,200}$", var.default_topic)) && !startswith(var.default_topic, "goog")
    error_message = "default_topic must be a Pub/Sub topic id (not a full name), at most 200 characters so derived names fit."
  }
}

variable "extra_notification_topics" {
  description = "Other topics registrations may name, as full names projects/P/topics/T. They must exist; the poller gets roles/pubsub.publisher on each (the deployer needs to set IAM on them)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for topic in var.extra_notification_topics : can(regex("^projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", topic))])
    error_message = "extra_notification_topics entries must be full topic names: projects/P/topics/T."
  }
}

variable "failure_subscription_filter" {
  description = "Filter of the example subscription on the notification topic (messages carry attributes outcome, registrationId, service, operationName, errorCode, label_*)."
  type        = string
  default     = "attributes.outcome != \"succeeded\""
}

variable "registration_invokers" {
  description = "Principals allowed to call the registration function, e.g. [\"serviceAccount:svc@p.iam.gserviceaccount.com\"]. It is never public."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for member in var.registration_invokers : can(regex("^(user|serviceAccount|group|domain|principal|principalSet):.+", member))])
    error_message = "registration_invokers entries must be IAM principals such as serviceAccount:EMAIL or group:EMAIL."
  }

  validation {
    condition     = !anytrue([for member in var.registration_invokers : contains(["allUsers", "allAuthenticatedUsers"], member)])
    error_message = "The registration function must not be public: allUsers and allAuthenticatedUsers are refused."
  }
}

variable "endpoint_overrides" {
  description = "Host to base URL the poller uses instead of https://<host> (ENDPOINT_OVERRIDES, JSON-encoded), e.g. for a regional or private endpoint. Such hosts receive the poller's token."
  type        = map(string)
  default     = {}
}

variable "poll_schedule" {
  description = "Cloud Scheduler cron schedule (UTC) of the poll run."
  type        = string
  default     = "* * * * *"
}

variable "poll_budget_seconds" {
  description = "Seconds one poll run spends polling before it stops (POLL_BUDGET_SECONDS). As long as the schedule's period by default: the next run takes over from this one without a gap."
  type        = number
  default     = 60
}

variable "poll_concurrency" {
  description = "Operations polled at once in a run (POLL_CONCURRENCY)."
  type        = number
  default     = 32
}

variable "poll_lease_seconds" {
  description = "Length of the lease that keeps two poll runs from working at once (POLL_LEASE_SECONDS)."
  type        = number
  default     = 15
}

variable "poll_request_timeout_seconds" {
  description = "Timeout of one operations.get request (POLL_REQUEST_TIMEOUT_SECONDS)."
  type        = number
  default     = 10
}

variable "poll_timeout_seconds" {
  description = "Timeout of the poll function; must exceed poll_budget_seconds plus a run's end: poll_request_timeout_seconds + 20 (a publish) + 5 x poll_lease_seconds (the last writes, flush and release). The scheduler waits 30 s longer."
  type        = number
  default     = 180

  validation {
    condition     = var.poll_timeout_seconds >= 15 && var.poll_timeout_seconds <= 1770
    error_message = "poll_timeout_seconds must be in [15, 1770] so the scheduler's attempt deadline stays within 30 minutes."
  }
}

variable "registration_max_instances" {
  description = "Maximum instances of the registration function."
  type        = number
  default     = 10
}

variable "poll_max_instances" {
  description = "Maximum instances of the poll function. The lease already lets only one run work at a time."
  type        = number
  default     = 1
}

variable "watched_project_roles" {
  description = "Roles the poller's service account needs to read operations, by project id, e.g. { \"my-project\" = [\"roles/compute.viewer\"] }. See docs/deploy.md for the role per API."
  type        = map(list(string))
  default     = {}

  validation {
    condition = alltrue(flatten([
      for project, roles in var.watched_project_roles : [
        for role in roles : can(regex("^(roles/|projects/[^/]+/roles/|organizations/[0-9]+/roles/)", role)) && !contains(["roles/owner", "roles/editor", "roles/viewer"], role)
      ]
    ]))
    error_message = "watched_project_roles must hold predefined or custom role names, and no basic role (owner, editor, viewer)."
  }
}
