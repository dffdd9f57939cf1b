"""What every Touchpoint process needs: settings (with the company facts all services share), structured
logging, the Kafka producer/consumer/admin wiring, the PostgreSQL pool and migrations, health checks and graceful
shutdown."""
