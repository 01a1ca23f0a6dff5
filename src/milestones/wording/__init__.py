"""The words people read: labels and names in each language, the languages spoken, the message catalogs' templates,
and the pages' words."""
