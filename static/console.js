// The console works without JavaScript; this only asks before destructive
// buttons (those with data-confirm) submit their form.
document.addEventListener("click", function (ev) {
	var b = ev.target.closest("[data-confirm]");
	if (b && !window.confirm(b.getAttribute("data-confirm"))) {
		ev.preventDefault();
	}
});
