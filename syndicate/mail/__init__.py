"""E-mail subscriptions to merged feeds (issue 26): sign-up with double opt-in (subscriptions), German
multipart mails (messages), and delivery over SMTP that sends each story once per subscription (delivery)."""
