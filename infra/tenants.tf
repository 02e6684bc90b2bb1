# Tenants: the teams sharing this deployment (TENANTS). Each tenant's callers are known by their ID tokens'
# e-mails; its registrations must pass its own lists as well as the global ones (watch_projects, watch_services,
# allowed_topics, delegation_subjects), and a list it leaves out is the global one. Empty: no tenants, every
# caller bounded by the global lists alone. See docs/security.md.

locals {
  # TENANTS as functions/core/tenants.ts reads it: JSON, with the fields a tenant leaves out left out (not null),
  # so that they take the global value. Empty when there are no tenants (the variable unset).
  tenants_env = length(var.tenants) == 0 ? "" : jsonencode({
    for name, tenant in var.tenants : name => {
      for key, value in {
        principals = tenant.principals
        projects   = tenant.projects
        services   = tenant.services
        topics     = tenant.topics
        subjects   = tenant.subjects
        maxPending = tenant.max_pending
        admins     = tenant.admins
      } : key => value if value != null
    }
  })
}
