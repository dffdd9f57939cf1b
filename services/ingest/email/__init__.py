"""Email sources: reading mail (`headers`, `mime`), the Mailgun and Postmark webhooks, and the SMTP server."""
