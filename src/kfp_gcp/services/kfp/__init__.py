"""A running KFP: the v2beta1 API, IAP ID tokens, which KFP to talk to, publishing, schedules."""
