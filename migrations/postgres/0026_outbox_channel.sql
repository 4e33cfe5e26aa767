-- Which channel delivers a message: 'email' (every row before webhooks) or
-- 'webhook:NAME' (an event for the endpoint `[webhooks.NAME]`, its JSON
-- payload in text_body and its Standard Webhooks id in message_id).
ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'email';
