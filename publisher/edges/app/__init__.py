"""The press office's web app (``/app/``): sign-in, the form with live previews, approval, the
status board and the audit view. Server-rendered; it works without JavaScript."""
