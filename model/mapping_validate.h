/* mapping_validate.h: checks a parsed mapping against the live CRM schemas and the account's
 * other mappings, and says what an admin must fix before the mapping can be turned on.
 *
 * Owns: the rules a mapping must satisfy to sync without errors (objects and fields exist,
 * directions only write writable fields, types are compatible, picklist values and HubSpot
 * options cover each other, identity fields can hold the other CRM's id, lookups are
 * associations that can be resolved) and the problem codes and messages for each.
 *
 * Design: one pass that never stops early: every problem is reported at once, with the path of
 * the mapping member to change. Type compatibility is one table (Salesforce type x HubSpot
 * kind). The direction a field is checked in is its rule's directions (mapping_field_directions)
 * limited to the record directions that are switched on (create or update), so a rule that can
 * never write in a direction is not held to that direction's constraints. A NULL schema means the
 * object was not found: its own problem is reported and the checks that need it are skipped.
 *
 * Problem codes (severity error unless marked):
 *   salesforce_object_not_found, hubspot_object_not_found     the object pair
 *   duplicate_mapping, mapping_limit_reached                  the account's mappings
 *   salesforce_field_not_found, hubspot_property_not_found    fields[i].salesforce / .hubspot
 *   duplicate_salesforce_field, duplicate_hubspot_property    mapped twice
 *   lookup_as_field                                           a lookup mapped as a plain field
 *   salesforce_field_not_updateable   HS->SF into a read-only/formula field, or not createable
 *                                     while HubSpot creates Salesforce records
 *   hubspot_property_read_only        SF->HS into a calculated/read-only property
 *   type_incompatible                 types do not convert (or free text into a restricted
 *                                     picklist)
 *   value_map_not_applicable          value_map on a field that is not a picklist
 *   value_map_unknown_salesforce_value, value_map_unknown_hubspot_option
 *   option_unmapped                   an active picklist value without a HubSpot option, or a
 *                                     HubSpot option without a value a restricted picklist
 *                                     accepts (warning when the picklist is not restricted)
 *   text_may_truncate (warning)       Salesforce text longer than HubSpot's 65,536 characters,
 *                                     or HubSpot text into a shorter Salesforce field
 *   required_property_unmapped        a HubSpot required property nothing writes SF->HS
 *   salesforce_required_field_unmapped  a Salesforce required field nothing writes HS->SF while
 *                                     HubSpot creates Salesforce records
 *   identity_property_missing, identity_property_not_unique, identity_property_wrong_type,
 *   identity_property_mapped          identity.hubspot_property (needed when SF->HS is on)
 *   identity_field_missing, identity_field_not_external_id, identity_field_wrong_type,
 *   identity_field_mapped             identity.salesforce_field (needed when HS->SF is on)
 *   association_field_not_lookup, association_unresolvable, association_contacts_and_leads,
 *   association_type_unknown, association_not_defined, duplicate_association
 *   out_of_memory
 *
 * Must not: fetch schemas, read the database, log, or change the mapping. */
#ifndef SYNKRO_SYNC_MAPPING_VALIDATE_H
#define SYNKRO_SYNC_MAPPING_VALIDATE_H

#include "crm/crm_schema.h"
#include "model/mapping.h"

#include <stddef.h>
#include <stdint.h>

/* Mappings per account when the context gives no limit (HubSpot's own wizard allows 10). */
#define MAPPING_DEFAULT_LIMIT 10

/* What validation needs to know about another stored mapping of the account. */
struct mapping_summary {
    int64_t id;
    const char *name;              /* for messages; may be NULL */
    const char *salesforce_object; /* as stored in that mapping */
    const char *hubspot_object;    /* as stored in that mapping */
};

struct mapping_context {
    /* The account's stored mappings; an entry with the validated mapping's own id is skipped. */
    const struct mapping_summary *mappings;
    size_t n_mappings;
    size_t limit; /* SYNKRO_MAX_MAPPINGS; 0 means MAPPING_DEFAULT_LIMIT */
    size_t count; /* mappings the account has stored now. A mapping without an id is new and
                     is refused when count >= limit; a stored one (has_id) is already counted. */
    /* Optional HubSpot schemas of association targets (e.g. companies 0-2), used to check
     * resolver properties and to match fully qualified names; missing ones are not checked. */
    const struct hs_object *const *hubspot_targets;
    size_t n_hubspot_targets;
};

/* Validates m. sf / hs are the schemas of m's objects, NULL when the CRM has no such object;
 * a schema whose name does not match m's object also counts as not found. ctx may be NULL (no
 * other mappings, default limit, count 0). Appends every problem to out
 * (errors and warnings) and returns 0, or -1 when m/out is NULL or memory runs out (out then has
 * out_of_memory set). Whether the mapping may be enabled: !problem_list_has_errors(out). */
int mapping_validate(const struct mapping *m, const struct sf_object *sf,
                     const struct hs_object *hs, const struct mapping_context *ctx,
                     struct problem_list *out);

#endif
