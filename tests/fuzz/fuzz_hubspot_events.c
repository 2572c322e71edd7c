/* fuzz_hubspot_events.c: libFuzzer target for hubspot_events_parse() and the idempotency key.
 *
 * Feeds arbitrary bytes as a webhook body (explicit length, no NUL terminator assumed) and checks
 * invariants on success: 1..100 events, kind consistent with subscriptionType, raw JSON length,
 * key shape, and that each stored raw event parses back to an event with the same key and ids
 * (what the storage layer relies on). On failure: no batch and a non-empty error text.
 * Must not: write files or keep state between inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/hubspot_events.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "invariant violated: %s\n", what);
        abort();
    }
}

static void check_roundtrip(const struct hubspot_event *e, const char *key)
{
    size_t n = e->raw_json_len + 3;
    char *wrapped = malloc(n);
    struct hubspot_event_batch *b = NULL;
    char key2[HUBSPOT_EVENT_KEY_SIZE];
    char err[256];
    int rc;

    check(wrapped != NULL, "malloc");
    wrapped[0] = '[';
    memcpy(wrapped + 1, e->raw_json, e->raw_json_len);
    wrapped[n - 2] = ']';
    wrapped[n - 1] = '\0';
    rc = hubspot_events_parse(wrapped, n - 1, 1, &b, err, sizeof(err));
    if (rc != HS_EV_OK)
        fprintf(stderr, "reparse of %s failed: %s\n", wrapped, err);
    check(rc == HS_EV_OK && b != NULL && b->count == 1, "raw JSON parses back");
    check(hubspot_event_idempotency_key(&b->events[0], key2, sizeof(key2)) == 0, "key2");
    check(strcmp(key, key2) == 0, "same key after round trip");
    check(b->events[0].object_id == e->object_id && b->events[0].kind == e->kind &&
              b->events[0].attempt_number == e->attempt_number &&
              b->events[0].merged_object_ids_count == e->merged_object_ids_count,
          "same ids after round trip");
    check((e->property_value == NULL) == (b->events[0].property_value == NULL) &&
              (e->property_value == NULL ||
               strcmp(e->property_value, b->events[0].property_value) == 0),
          "same property value after round trip");
    check(b->events[0].raw_json_len == e->raw_json_len &&
              memcmp(b->events[0].raw_json, e->raw_json, e->raw_json_len) == 0,
          "raw JSON is a fixed point");
    hubspot_event_batch_free(b);
    free(wrapped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct hubspot_event_batch *b = (struct hubspot_event_batch *)&size;
    char err[256];
    int rc = hubspot_events_parse((const char *)data, size, HUBSPOT_EVENTS_MAX_PER_REQUEST, &b, err,
                                  sizeof(err));

    check(strcmp(hubspot_events_result_name(rc), "unknown") != 0, "known result code");
    if (rc != HS_EV_OK) {
        check(b == NULL, "no batch on failure");
        check(err[0] != '\0', "error text on failure");
        return 0;
    }
    check(b != NULL && b->count >= 1 && b->count <= HUBSPOT_EVENTS_MAX_PER_REQUEST, "count");
    for (size_t i = 0; i < b->count; i++) {
        const struct hubspot_event *e = &b->events[i];
        char key[HUBSPOT_EVENT_KEY_SIZE];

        check(e->subscription_type != NULL && e->subscription_type[0] != '\0', "type");
        check(e->kind == hubspot_event_kind_from_type(e->subscription_type), "kind");
        check(hubspot_event_kind_name(e->kind) != NULL, "kind name");
        check(e->portal_id >= 0 && e->object_id >= 0 && e->event_id >= 0 && e->occurred_at >= 0,
              "ids non-negative");
        check(e->raw_json != NULL && strlen(e->raw_json) == e->raw_json_len, "raw length");
        check(e->merged_object_ids_count == 0 || e->merged_object_ids != NULL, "merged ids");
        for (size_t j = 0; j < e->merged_object_ids_count; j++)
            check(e->merged_object_ids[j] >= 0, "merged id non-negative");
        check(e->has.object_id_field || e->kind == HS_EVENT_ASSOCIATION, "objectId rule");
        /* an own write needs an app id and a source (the rule's cases: test_hubspot_events) */
        if (hubspot_event_is_own_write(e))
            check(e->has.app_id && e->change_source && e->source_id && e->source_id[0] != '\0',
                  "own write fields");
        check(hubspot_event_idempotency_key(e, key, sizeof(key)) == 0, "key");
        check(strlen(key) == HUBSPOT_EVENT_KEY_SIZE - 1 && memcmp(key, "hs:", 3) == 0, "key shape");
        if (e->property_value != NULL)
            check(strlen(e->property_value) <= size, "value length");
        check_roundtrip(e, key);
    }
    hubspot_event_batch_free(b);
    return 0;
}
