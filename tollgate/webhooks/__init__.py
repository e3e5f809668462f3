"""Usage alerts by webhook, signed as the Standard Webhooks specification describes.

A tenant registers endpoints (`endpoints`); events for it (`events.EVENT_TYPES`) are
stored with a stable id and a delivery row per endpoint that wants them, in the same
transaction that decides them; the sender (`sender`) posts each, signed with the
endpoint's secret (`webhook-id`, `webhook-timestamp`, `webhook-signature`: HMAC-SHA256),
retries failures with backoff and logs every attempt. Delivery is at-least-once: the
receiver deduplicates on `webhook-id`. Nothing here runs on a request's path.
"""
