# A placeholder so the example plans offline; give the real value as TF_VAR_dashboard_oidc_client_secret.
dashboard_oidc_client_secret = "placeholder-not-a-secret"
