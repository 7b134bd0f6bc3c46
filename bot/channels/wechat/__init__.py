"""The WeChat Official Account (公众号) channel: the callback URL ``/wechat`` over the same core.

``env`` reads the secrets from the environment; ``protocol`` checks, decrypts and parses what WeChat
sends and seals the replies (wechatpy); ``handlers`` decides what to say; ``format`` fits it into
WeChat's byte limit; ``api`` sends the customer-service messages; ``app`` is the FastAPI app that
answers within WeChat's 5 seconds. ``deps`` holds every name taken from the rest of the bot.
"""
