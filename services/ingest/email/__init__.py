"""Email sources: RFC 5322 parsing (`mime`), the Mailgun and Postmark webhooks and the SMTP server."""
