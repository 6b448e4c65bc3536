"""Files and folders into Articles: the loaders, the article inside an HTML page, a watched folder."""
