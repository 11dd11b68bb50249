"""reports/index.html: the page's HTML pieces and one section per analysis."""
