"""The local demo stack (Sakai simulator, IdP launcher). NOT FOR PRODUCTION."""
