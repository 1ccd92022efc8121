"""roundup: newsletter curation and digest bot.

Polls a publication's feeds, sorts new stories into regions with tag rules,
drafts a weekly round-up in the site's house style, lets editors approve it,
and sends it to subscribers. See DESIGN.md for the parts and the flow.
"""

__version__ = "0.1.0"
