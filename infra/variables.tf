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
  description = "Filter of the example subscription on the notification topic (messages carry attributes outcome, registrationId, owner, tenant (with tenants), service, operationName, errorCode, label_*)."
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

variable "list_interval_seconds" {
  description = "How often at most each watch lists its parent's operations (LIST_INTERVAL_SECONDS); a completion event of an operation under it lists sooner."
  type        = number
  default     = 30

  validation {
    condition     = var.list_interval_seconds > 0 && var.list_interval_seconds <= 86400
    error_message = "list_interval_seconds must be in (0, 86400]."
  }
}

variable "poll_memory_mb" {
  description = "Memory of the poll function, and of the completions function, which polls too, in MB; also passed to them as POLL_MEMORY_MB, which bounds what a tick holds: each answer is capped so POLL_CONCURRENCY of them, parsed, fit in the heap Node.js sizes at half this memory (functions/polling/memory-budget.ts), and a larger answer is its registration's poll error."
  type        = number
  default     = 512

  validation {
    condition     = var.poll_memory_mb >= 256 && var.poll_memory_mb <= 32768
    error_message = "poll_memory_mb must be in [256, 32768]."
  }
}

variable "publish_grace_seconds" {
  description = "How long from its first refused publish a notification Pub/Sub keeps refusing is retried before the watch ends undeliverable, at least three tries over at least a minute (PUBLISH_GRACE_SECONDS)."
  type        = number
  default     = 3600
}

variable "dead_letter_topic" {
  description = "Topic that also gets the notification of an undeliverable watch, with the publish error attached: a topic id in project_id or projects/P/topics/T; empty for none (DEAD_LETTER_TOPIC). It must exist; the poller gets roles/pubsub.publisher on it."
  type        = string
  default     = ""

  validation {
    condition     = var.dead_letter_topic == "" || can(regex("^(projects/[a-z][a-z0-9-]{4,28}[a-z0-9]/topics/)?[A-Za-z][A-Za-z0-9._~+%-]{2,254}$", var.dead_letter_topic))
    error_message = "dead_letter_topic must be empty, a topic id, or projects/P/topics/T."
  }
}

variable "poll_timeout_seconds" {
  description = "Timeout of the poll function; must exceed the longest a run can take: poll_budget_seconds + poll_request_timeout_seconds + the publish timeout + 5 x poll_lease_seconds (the last writes, a renewal, the flush, the learned durations and the release; see locals in functions.tf). The scheduler waits 30 s longer."
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
  description = "Maximum instances of the poll function; at least poll_shards. Each shard's lease lets one run work that shard at a time."
  type        = number
  default     = 1
}

variable "poll_shards" {
  description = "Shard workers the registrations are split over (POLL_SHARDS). Above 1, each Scheduler tick fans out one run per shard over the opwatch-poll-fanout topic. Can be changed at any time."
  type        = number
  default     = 1

  validation {
    condition     = var.poll_shards >= 1 && var.poll_shards <= 256 && floor(var.poll_shards) == var.poll_shards
    error_message = "poll_shards must be an integer in [1, 256]."
  }
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

variable "completion_events" {
  description = "Route operations' audit-log completion entries to opwatch (a Logging sink, a topic, a push subscription and the completions function), so they are polled as soon as they end; registrations of those services then back off lazily (COMPLETION_EVENTS). See docs/deploy.md."
  type        = bool
  default     = false
}

variable "completion_poll_budget_seconds" {
  description = "Seconds the tick a completion event starts may run (COMPLETION_POLL_BUDGET_SECONDS)."
  type        = number
  default     = 10

  validation {
    condition     = var.completion_poll_budget_seconds > 0 && var.completion_poll_budget_seconds <= 300
    error_message = "completion_poll_budget_seconds must be in (0, 300]."
  }
}

variable "watch_projects" {
  description = "Project ids whose operations may be registered (WATCH_PROJECTS); [\"*\"] allows any. Empty: project_id alone. Grant the poller read roles there with watched_project_roles."
  type        = list(string)
  default     = []
}

variable "watch_services" {
  description = "API hosts whose operations may be registered (WATCH_SERVICES), e.g. [\"datamigration.googleapis.com\"]. Empty: the hosts of the built-in presets. A host without a preset must be listed."
  type        = list(string)
  default     = []
}

variable "allowed_topics" {
  description = "Topic globs registrations may name (ALLOWED_TOPICS), e.g. [\"projects/P/topics/opwatch-*\"]; * matches within one path segment. Empty: the notification topics this configuration grants the poller publisher on."
  type        = list(string)
  default     = []
}

variable "delegation_subjects" {
  description = "Workspace users (e-mails) or whole domains (@example.com) a registration's subject may name (DELEGATION_SUBJECTS). Empty: subject is refused. Non-empty: the poller gets Token Creator on its own account to sign delegation JWTs."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for subject in var.delegation_subjects : can(regex("^([^@,\\s]+)?@[^@,\\s]+$", subject))])
    error_message = "delegation_subjects entries must be e-mail addresses or @domain."
  }
}

variable "admin_principals" {
  description = "E-mails of callers who see and cancel every owner's registrations (ADMIN_PRINCIPALS); everyone else sees only their own."
  type        = list(string)
  default     = []
}

variable "max_pending_per_owner" {
  description = "Pending registrations one owner may have at once (MAX_PENDING_PER_OWNER); beyond it registration answers 429."
  type        = number
  default     = 10000

  validation {
    condition     = var.max_pending_per_owner >= 1 && floor(var.max_pending_per_owner) == var.max_pending_per_owner
    error_message = "max_pending_per_owner must be a positive whole number."
  }
}

variable "notification_channels" {
  description = "Monitoring notification channels the alert policies notify, as projects/P/notificationChannels/ID (e.g. from google_monitoring_notification_channel or `gcloud beta monitoring channels list`). Empty: incidents open in the console only. See docs/operations.md."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for channel in var.notification_channels : can(regex("^projects/[^/]+/notificationChannels/[^/]+$", channel))])
    error_message = "notification_channels entries must be projects/P/notificationChannels/ID."
  }
}

variable "alert_lag_p99_seconds" {
  description = "The notification lag (operation end to Pub/Sub's acceptance) whose p99, held for 10 minutes, raises the lag alert. Polling waits up to 60 s between polls of a long operation, so keep it above that."
  type        = number
  default     = 120

  validation {
    condition     = var.alert_lag_p99_seconds > 0
    error_message = "alert_lag_p99_seconds must be positive."
  }
}

variable "tenants" {
  description = "Tenants by name (TENANTS): principals (e-mails, or *@domain), and optionally projects, services, topics (globs), subjects, max_pending (pending registrations of the whole tenant; default max_pending_per_owner) and admins (principals of the tenant, e-mails, who read its figures with GET /stats). A caller may be in one tenant at most; one in none is refused. The poller must be able to publish to each tenant's topics (extra_notification_topics)."
  type = map(object({
    principals  = list(string)
    projects    = optional(list(string))
    services    = optional(list(string))
    topics      = optional(list(string))
    subjects    = optional(list(string))
    max_pending = optional(number)
    admins      = optional(list(string))
  }))
  default = {}

  validation {
    condition     = alltrue([for name, tenant in var.tenants : can(regex("^[a-z][a-z0-9_-]{0,62}$", name)) && length(tenant.principals) > 0])
    error_message = "tenants: names must match [a-z][a-z0-9_-]{0,62}, and each tenant needs at least one principal."
  }

  validation {
    condition     = alltrue(flatten([for tenant in values(var.tenants) : [for principal in tenant.principals : can(regex("^([^@*,\\s]+|\\*)@[^@,\\s]+$", principal))]]))
    error_message = "tenants: principals must be e-mail addresses or *@domain."
  }
}
