/* value_convert.h: converts one field value between a Salesforce field and a HubSpot property,
 * in both directions, and compares values without false differences.
 *
 * Owns: the conversion table (Salesforce field type x HubSpot property kind -> converter pair,
 * the same pairs mapping_validate accepts), the value formats of both CRMs (Salesforce REST
 * JSON and outbound-message text; HubSpot property text), canonical forms for comparison, and
 * the value error codes and messages.
 *
 * Design: a value is classified once (the HubSpot kind of the property, the Salesforce type of
 * the field); the pair selects one row of a static table whose functions do the conversion.
 * Numbers are converted as decimal text, never through a float, so "0.1" stays "0.1" and
 * 999999999999999999 stays exact; a JSON double from Salesforce is first written as the
 * shortest text that reads back as the same double. Dates and datetimes go through one calendar
 * routine (proleptic Gregorian, milliseconds since 1970 UTC), so offsets and epoch milliseconds
 * normalise to UTC. Empty is one concept: Salesforce null (and "", which Salesforce stores as
 * null) <-> HubSpot "" (which clears a property).
 *
 * Pairs (Salesforce type <-> HubSpot kind):
 *   id, reference, string, textarea, email, phone, url, combobox, picklist <-> text (string,
 *     phone_number); text length is counted in characters (UTF-8 code points): at most
 *     HS_STRING_MAX_CHARS into HubSpot, at most sf->length (when > 0) into Salesforce.
 *     A picklist mapped to text still uses the field's value_map.
 *   int, long, double, currency, percent <-> number: canonical decimal text ("419", "0.5",
 *     "-12.25"; no exponent, no trailing zeros, no "-0"); at most 18 digits before and 30 after
 *     the point (Salesforce number fields hold at most 18 digits); int must be integral and
 *     within -2147483648..2147483647, long integral.
 *   boolean <-> bool: "true"/"false" (read case-insensitively). HubSpot "" into a Salesforce
 *     checkbox that is not nillable writes false (Salesforce checkboxes cannot be blank).
 *   date <-> date: "YYYY-MM-DD", years 0001-9999; HubSpot epoch milliseconds (or an ISO datetime)
 *     at exactly midnight UTC are accepted.
 *   datetime <-> datetime: written as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, milliseconds) both ways;
 *     read as ISO 8601 with seconds and a zone (Z, +hh:mm, +hhmm, +hh; 1-9 fraction digits,
 *     truncated to milliseconds) or, from HubSpot, epoch milliseconds.
 *   picklist <-> enumeration (select, radio): through mf->value_map (SF value -> HS option; the
 *     reverse uses the first pair naming the option); an unmapped value passes through unchanged
 *     when the other side has it (a HubSpot option; a Salesforce picklist value, active if the
 *     picklist is restricted), else unmapped_option.
 *   multipicklist <-> enumeration (checkbox): ";"-joined, each element as for picklists, order
 *     kept, empty elements and duplicates (after mapping) dropped.
 *
 * Error codes (struct value_error.code): not_a_number, not_integral, out_of_range,
 * not_a_boolean, bad_date, bad_datetime, unmapped_option, too_long, invalid_text (not UTF-8, or
 * a NUL character), wrong_json_type (e.g. a JSON bool for a number field), unsupported_types,
 * invalid_argument, out_of_memory. Messages name the field or property and the offending value
 * (shortened to 40 characters) and say what to do.
 *
 * Must not: log, do network or database work, keep mutable global state, or modify its inputs. */
#ifndef SYNKRO_SYNC_VALUE_CONVERT_H
#define SYNKRO_SYNC_VALUE_CONVERT_H

#include "crm/crm_schema.h"
#include "model/mapping.h"

#include <json-c/json.h>

#include <stdbool.h>

#define VALUE_ERROR_CODE_MAX    32
#define VALUE_ERROR_MESSAGE_MAX 256

/* Return values of the conversion functions. */
#define VALUE_OK      0
#define VALUE_INVALID (-1) /* the value cannot be converted; err says why */
#define VALUE_NOMEM   (-2) /* out of memory; err->code is "out_of_memory" */

struct value_error {
    char code[VALUE_ERROR_CODE_MAX];       /* "" on success */
    char message[VALUE_ERROR_MESSAGE_MAX]; /* a sentence naming the field and the value */
};

/* How a value is written, independent of the CRM (the HubSpot kinds of mapping_validate). */
enum value_kind {
    VALUE_KIND_OTHER = 0, /* not convertible */
    VALUE_KIND_TEXT,
    VALUE_KIND_NUMBER,
    VALUE_KIND_BOOL,
    VALUE_KIND_SELECT, /* single-select enumeration / picklist */
    VALUE_KIND_MULTI,  /* multi-select enumeration / multipicklist */
    VALUE_KIND_DATE,
    VALUE_KIND_DATETIME,
};

/* The kind of a HubSpot property: string and phone_number -> TEXT, enumeration with fieldType
 * checkbox -> MULTI, other enumerations -> SELECT, ...; OTHER for NULL or unknown types. */
enum value_kind value_hs_kind(const struct hs_object_property *hs);

/* The kind of a Salesforce field type: text types (id, reference, string, textarea, email,
 * phone, url, combobox, encryptedstring, time) -> TEXT, picklist -> SELECT, multipicklist ->
 * MULTI, int/long/double/currency/percent -> NUMBER, ...; OTHER for the rest. */
enum value_kind value_sf_kind(enum sf_field_type type);

/* True if a value of Salesforce field type sf converts to and from HubSpot kind hs. */
bool value_pair_supported(enum sf_field_type sf, enum value_kind hs);

/* Converts a Salesforce REST JSON value (string, number, bool; NULL or JSON null = empty) of
 * field sf into the text of HubSpot property hs. mf (may be NULL) supplies the value_map.
 * On VALUE_OK *out is the property text, "" to clear (caller frees with free()); otherwise
 * *out is NULL and err (may be NULL) says why. */
int value_sf_to_hs(const struct sf_field *sf, const struct hs_object_property *hs,
                   const struct mapping_field *mf, json_object *sf_value, char **out,
                   struct value_error *err);

/* Converts the text of HubSpot property hs (NULL or "" = empty) into the JSON value for field
 * sf in a Salesforce REST body. On VALUE_OK *out is a new JSON value (caller releases with
 * json_object_put()), or NULL meaning JSON null (clear the field); otherwise *out is NULL and
 * err (may be NULL) says why. */
int value_hs_to_sf(const struct hs_object_property *hs, const struct sf_field *sf,
                   const struct mapping_field *mf, const char *hs_value, json_object **out,
                   struct value_error *err);

/* Turns the text of field sf in a Salesforce outbound message into the JSON value the REST API
 * returns for it: int/long -> JSON integer ("419.0" -> 419), double/currency/percent -> JSON
 * double (json_object_equal to REST's), boolean ("true", "false", "1", "0") -> JSON bool,
 * datetime -> "YYYY-MM-DDTHH:MM:SS.mmm+0000", date -> "YYYY-MM-DD", others -> the string.
 * is_null, a NULL text or "" (outbound messages omit empty fields) give NULL (JSON null).
 * On VALUE_OK *out is the value (caller puts; NULL for null); otherwise *out is NULL. */
int value_sf_text_to_json(const struct sf_field *sf, const char *text, bool is_null,
                          json_object **out, struct value_error *err);

/* The canonical text of a HubSpot value of this kind ("" for NULL/empty): numbers as canonical
 * decimal, bools "true"/"false", dates "YYYY-MM-DD", datetimes "YYYY-MM-DDTHH:MM:SS.mmmZ",
 * multi-selects sorted by byte order without duplicates or empty elements, text and single
 * selects unchanged. Caller frees *out with free(). VALUE_INVALID when the value does not parse
 * as the kind. */
int value_hs_canonical(enum value_kind kind, const char *value, char **out,
                       struct value_error *err);

/* True if two HubSpot values of this kind mean the same ("419" and "419.0"; "true" and
 * "True"; an ISO datetime with an offset and the same instant in epoch milliseconds; "a;b" and
 * "b;a"; NULL and ""). Values that do not parse as the kind are compared byte for byte. */
bool value_equal_hs(const char *a, const char *b, enum value_kind kind);

/* True if two Salesforce JSON values of field sf mean the same (JSON null and ""; 419 and
 * 419.0; "...+0000" and "...Z" datetimes; multipicklists as sets). Values that do not parse
 * are compared with json_object_equal. */
bool value_equal_sf(const struct sf_field *sf, json_object *a, json_object *b);

#endif
