/* iso8601.h: parsing of the ISO-8601 instants both CRMs send (Salesforce SystemModstamp and
 * getUpdated windows, HubSpot dates), shared by the webhook handlers and the sweep. Pure. */
#ifndef SYNKRO_BASE_ISO8601_H
#define SYNKRO_BASE_ISO8601_H

#include <stdint.h>

/* Epoch milliseconds of s ("YYYY-MM-DD", or "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm|-hhmm)" and no
 * zone meaning UTC); -1 when s is NULL or not such an instant. */
int64_t iso8601_parse_ms(const char *s);

#endif
