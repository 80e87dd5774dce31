"""The simulated Sakai node every test in this package talks to."""

ADMIN_EID = "svc-bridge"
ADMIN_PASSWORD = "S3cret-admin-pw!"
SERVER_ID = "node1"
