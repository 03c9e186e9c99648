"""Notifications out of the platform: e-mail over SMTP, SMS and chat apps through the
marketplace's gateway. The queue is in :mod:`.store`, the senders in :mod:`.sending`;
the worker's loop that drives them is :mod:`aftersales.worker.notify`.
"""
