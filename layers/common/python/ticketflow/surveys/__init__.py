"""Satisfaction surveys: scheduled on close, dispatched once by email, SMS or the channel's
callback, answered once on a public page, fed into the day's aggregates; a low score opens a
recovery ticket for the team supervisor.

    rules      which tickets get one, when, for how long (live configuration ``surveys``)
    links      the single-use token and the public link
    messages   the invitation in zh and en (email HTML and text, SMS)
    dispatch   the survey queue's stage, and scheduling on close
    answers    reading a link, validating and storing an answer
    recovery   the follow-up ticket for a low score
    page       the HTML of the survey page
"""
