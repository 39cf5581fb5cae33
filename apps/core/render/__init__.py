"""Framework-free rendering of postmortems: Markdown → safe HTML, the timeline chart (SVG), the
print document (HTML for WeasyPrint) and the sandboxed PDF renderer. No Django imports here.
"""
